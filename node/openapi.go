package node

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/alliancehub/alliancehub/auth"
	"github.com/alliancehub/alliancehub/hub"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/labstack/echo/v4"
)

// GET /openapi.json (CONTRACT.md): the node's OpenAPI 3.0 document, built with the
// hub's builder (hub/openapi.go) and sharing its component schemas (Alliance, the
// roster, conflicts, problems), since the node serves the hub's roster code over its
// replica. openapi_test.go keeps it complete and true to the answers.

// nodeOpenAPI is the node's document. It is the same for every program: what differs
// (levels, categories, terms) is in the program's definition (docs/PROGRAMS.md).
var nodeOpenAPI = sync.OnceValue(func() *hub.OpenAPI {
	d := hub.NewOpenAPI("alliancehub node", "A program's node: the program's record of its own Alliances, their lifecycle, reports, compliance and calendar, CSV import and export, its sync with the hub, and its verified replica of the national roster. docs/PROTOCOL.md is the full reference. Every answer carries `X-Request-Id`; every error is `application/problem+json`. Lists answer `{items, total, next_page_token}`. A node accepts only tokens signed by its own key (`alliancehub token --key` with the node's key file); a program token must name the node's program.")
	d.ProgramBound = true
	d.PublicRoutes("node")
	d.WebUI("alliancehub_session_PROGRAM") // PROGRAM is the node's program code (node/ui)
	nodeSchemas(d)
	nodeAlliances(d)
	nodeReports(d)
	nodeSync(d)
	return d
})

// writers may change records: the program's own staff and admins (canWrite).
var writers = []auth.Role{auth.RoleProgram, auth.RoleAdmin}

func nodeSchemas(d *hub.OpenAPI) {
	d.Define("AlliancePage", d.ListOf("This program's Alliances in id order.", d.Ref("Alliance")))
	d.Define("Deleted", d.Obj("A deleted draft: its tombstone's revision.", hub.Props{
		"id": d.Str(""), "rev": d.Str("The tombstone's revision."), "deleted": {"type": "boolean", "enum": []bool{true}},
	}, "id", "rev", "deleted"))
	d.Define("RenewRequest", d.Obj("", hub.Props{
		"signed_on":   d.Date("The renewal's signing; not before the agreement it renews."),
		"term_months": d.Int("Default and bounds from the program's renewal_term_months (FED 24 to 60, default 60)."),
	}))
	d.Define("TerminateRequest", d.Obj("", hub.Props{
		"notice_on": d.Date("Written notice; effective 30 days later."),
		// The directive's reasons are offered to whoever writes the notice; it lists them
		// as examples ("may include, but are not limited to"), so reason stays free text.
		"reason": d.StrMax("Free text. The directive's reasons for OSHA to terminate (CSP 04-01-001 XIV) include: "+strings.Join(schema.TerminationReasons, "; ")+".", 4000),
	}))
	d.Define("ConcludeRequest", d.Obj("", hub.Props{
		"concluded_on": d.Date("Default: expires_on; not before signed_on. Required for an Ambassador, not before ambassador_on."),
	}))
	d.Define("AmbassadorRequest", d.Obj("", hub.Props{
		"on": d.Date("The day it becomes an Ambassador: not before the initial term and one renewal term are completed."),
	}))
	d.Define("AddendumRequest", d.Obj("", hub.Props{
		"signed_on": d.Date("Not before the signing or the previous addendum."),
		"added":     d.Arr("Participants joining.", d.Ref("Participant")),
		"removed":   d.Arr("Names of participants leaving.", d.Str("")),
		"note":      d.Str(""),
	}))
	d.Define("ResolveRequest", d.Obj("", hub.Props{
		"take": d.Str("A competing revision (one of the conflict's leaves) whose content to keep; absent: the node's current content."),
	}))

	d.Define("Meeting", d.Obj("An implementation team meeting.", hub.Props{
		"held_on": d.Date(""), "type": d.Enum("", "in-person", "conference-call", "virtual"), "location": d.Str(""),
	}, "held_on"))
	d.Define("ReportItem", d.Obj("An event held or a product developed toward a goal.", hub.Props{
		"category": d.Str("One of the program's goal categories."), "title": d.Str(""), "description": d.Str(""), "on": d.Date(""),
	}, "category", "title"))
	d.Define("Activity", d.Obj("A row of the results table.", hub.Props{
		"type": d.Str(""), "category": d.Str(""), "reached": d.Range("", 0, 100_000_000), "trained": d.Range("", 0, 100_000_000),
	}, "type", "reached"))
	reportProps := func() hub.Props {
		return hub.Props{
			"id":           d.Str("The Alliance id, a dot and the period; assigned by the node."),
			"rev":          d.Str("In answers only."),
			"program":      d.Str(""),
			"alliance_id":  d.Str(""),
			"period":       d.Pattern("YYYY-Qn, YYYY-Hn or YYYY-annual, in a cadence the program requires.", `^[0-9]{4}-(Q[1-4]|H[12]|annual)$`),
			"reported_on":  d.Date("A full date."),
			"overview":     d.Str("I. Alliance background."),
			"team_members": d.ArrMax("", d.Str(""), 200),
			"contributors": d.ArrMax("", d.Str(""), 200),
			"meetings":     d.ArrMax("II. Implementation team meetings.", d.Ref("Meeting"), 200),
			"events":       d.ArrMax("III. Events, per goal category.", d.Ref("ReportItem"), 200),
			"products":     d.ArrMax("III. Products, per goal category.", d.Ref("ReportItem"), 200),
			"results":      d.Str("IV. Results."),
			"activities":   d.ArrMax("IV. Each activity and the individuals reached or trained.", d.Ref("Activity"), 200),
			"issues":       d.Str(""),
			"milestones":   d.ArrMax("V. Upcoming milestones.", d.Str(""), 200),
		}
	}
	d.Define("Report", d.Obj("A report for one period (docs/PROTOCOL.md section 6a).", reportProps(),
		"id", "rev", "program", "alliance_id", "period", "reported_on", "team_members", "meetings", "events", "products", "activities", "milestones"))
	d.Define("ReportInput", d.Obj("A report as a client sends it: without id and rev (the node assigns them).", reportProps(), "period", "reported_on"))
	d.Define("ReportList", d.ListOf("The Alliance's reports, oldest period first.", d.Ref("Report")))

	d.Define("Obligation", d.Obj("One report an Alliance owes.", hub.Props{
		"alliance_id": d.Str(""),
		"period":      d.Str(""),
		"cadence":     d.Enum("", string(schema.CadenceQuarterly), string(schema.CadenceSemiannual), string(schema.CadenceAnnual)),
		"from":        d.Date(""), "to": d.Date(""), "due_on": d.Date(""),
		"state":       d.Enum("", schema.ObligationUpcoming, schema.ObligationDue, schema.ObligationOverdue, schema.ObligationSubmitted),
		"reported_on": d.Date(""),
		"late":        d.Bool("Submitted after its due date."),
	}, "alliance_id", "period", "cadence", "from", "to", "due_on", "state"))
	d.Define("Compliance", d.Obj("What an Alliance owes and has done, as of a date (docs/PROTOCOL.md section 11).", hub.Props{
		"as_of":                   d.Date(""),
		"next_report_due":         d.Nullable(d.Date("Null when nothing more is owed.")),
		"next_report_period":      d.Str(""),
		"overdue_reports":         d.Arr("", d.Str("")),
		"obligations":             d.Nullable(d.Arr("", d.Ref("Obligation"))),
		"meetings_last_12_months": d.Count(""),
		"meetings_required":       d.Count(""),
		"meetings_short":          d.Bool(""),
		"meetings_judged_through": d.Nullable(d.Date("Null when no whole year is reported.")),
		"meetings_in_judged_year": d.Count(""),
		"expiring":                d.Bool(""),
		"ambassador_eligible":     d.Bool(""),
		"ambassador_eligible_on":  d.Date(""),
	}, "as_of", "next_report_due", "overdue_reports", "obligations", "meetings_last_12_months", "meetings_required",
		"meetings_short", "meetings_judged_through", "meetings_in_judged_year", "expiring", "ambassador_eligible"))
	d.Define("CalendarItem", d.Obj("One dated obligation or event of one Alliance.", hub.Props{
		"date": d.Date(""), "kind": d.Enum("", calendarKinds...), "state": d.Enum("", calendarStates...),
		"alliance_id": d.Str(""), "participant": d.Str(""), "period": d.Str(""), "detail": d.Str(""),
	}, "date", "kind", "alliance_id", "participant", "detail"))
	d.Define("CalendarSummary", d.Obj("Counts for the whole program on as_of.", hub.Props{
		"alliances": d.Count(""), "reports_overdue": d.Count(""), "reports_due": d.Count("In the window."),
		"expiring": d.Count(""), "meetings_short": d.Count(""), "ambassador_eligible": d.Count(""),
	}, "alliances", "reports_overdue", "reports_due", "expiring", "meetings_short", "ambassador_eligible"))
	d.Define("Calendar", d.Obj("The program's compliance calendar.", hub.Props{
		"as_of": d.Date(""), "from": d.Date(""), "to": d.Date(""),
		"summary":         d.Ref("CalendarSummary"),
		"items":           d.Arr("By date.", d.Ref("CalendarItem")),
		"total":           d.Count(""),
		"next_page_token": d.Str(""),
	}, "as_of", "from", "to", "summary", "items", "total", "next_page_token"))

	d.Define("Backstop", d.Obj("What a digest comparison found and repaired.", hub.Props{
		"checked_at":      d.Time(""),
		"repushed":        d.Count("Revisions the hub no longer held, sent again."),
		"hub_only":        d.Arr("Revisions of this program the hub holds and this node does not.", d.Ref("RevisionRef")),
		"replica_fetched": d.Count(""),
		"replica_rebuilt": d.Bool(""),
	}, "checked_at", "repushed", "replica_fetched"))
	d.Define("RunStatus", d.Obj("", hub.Props{
		"started_at": d.Time(""), "finished_at": d.Time(""), "result": d.Ref("SyncResult"), "backstop": d.Ref("Backstop"),
	}, "started_at", "finished_at", "result"))
	d.Define("SyncStatus", d.Obj("The node's sync state (docs/PROTOCOL.md section 9).", hub.Props{
		"last_run":        d.Ref("RunStatus"),
		"last_success_at": d.Time(""),
		"last_error":      d.Str(""),
		"checkpoint":      d.Seq("The push cursor: the last local sequence number the hub acknowledged."),
		"last_seq":        d.Seq("The last local sequence number written."),
		"outbox":          d.Seq("Revisions waiting to be pushed."),
		"next_run":        d.Time(""),
		"rejected":        d.Arr("Results the hub rejected, the latest 100, newest last.", d.Ref("PushResult")),
		"pull_checkpoint": d.Seq("The last hub sequence number the replica applied."),
		"hub_head_seq":    d.Seq("The hub's head at the last pull."),
		"last_pull_at":    d.Time(""),
		"last_backstop":   d.Ref("Backstop"),
	}, "checkpoint", "last_seq", "outbox", "pull_checkpoint", "hub_head_seq"))
	d.Define("RotateRequest", d.Obj("", hub.Props{
		"retire_old_at": d.Time("When the old key stops counting at the hub; default 7 days after the hub takes the new one; never in the past."),
	}))
	d.Define("RotateResult", d.Obj("", hub.Props{
		"kid": d.Str("The key the node signs with now."), "previous_kid": d.Str(""),
		"previous_not_after": d.Time("When the hub stops accepting the previous key."),
		"key_file":           d.Str(""), "old_key_file": d.Str(""),
	}, "kid", "previous_kid", "previous_not_after", "key_file", "old_key_file"))
	d.Define("LocalConflict", d.Merge("A conflict on one of this program's records, as the replica shows it, with the revision this node holds.",
		d.Schema("Conflict"), d.Obj("", hub.Props{
			"local_rev":   d.Str("The node's current revision of the record; empty when the node holds none."),
			"alliance_id": d.Str("A report's Alliance (kind report)."),
			"period":      d.Str("A report's period (kind report)."),
		}, "local_rev")))
	d.Define("LocalConflictList", d.ListOf("", d.Ref("LocalConflict")))

	d.Define("ImportStart", d.Obj("The import stream's first line.", hub.Props{"rows": d.Count(""), "dry_run": d.Bool("")}, "rows", "dry_run"))
	d.Define("ImportRow", d.Obj("One data row's outcome.", hub.Props{
		"line":              d.Int("The row's line in the file."),
		"outcome":           d.Enum("", OutcomeImported, OutcomeWouldImport, OutcomeDuplicate, OutcomeFailed, OutcomeNotImported),
		"id":                d.Str("The Alliance created, or the one it duplicates."),
		"duplicate_of_line": d.Int(""),
		"errors":            d.Nullable(d.Arr("", d.Ref("FieldError"))),
	}, "line", "outcome", "id", "errors"))
	d.Define("ImportSummary", d.Obj("The stream's last line.", hub.Props{
		"imported": d.Count(""), "duplicates": d.Count(""), "failed": d.Count(""), "not_imported": d.Count(""),
		"dry_run": d.Bool(""), "done": d.Bool(""),
	}, "imported", "duplicates", "failed", "not_imported", "dry_run", "done"))
	d.Define("ImportFailure", d.Obj("The stream's last line when the import stopped part way.", hub.Props{
		"error": d.Str(""), "done": d.Bool(""),
	}, "error", "done"))
}

// Answers of the operations on one Alliance.
var (
	notFound = hub.Response{Status: http.StatusNotFound, Problems: []string{"not-found"}, Description: "No such Alliance."}
	gone     = hub.Response{Status: http.StatusGone, Problems: []string{"deleted"}, Description: "The draft was deleted (its tombstone is kept)."}
	stale    = hub.Response{Status: http.StatusPreconditionFailed, Problems: []string{"precondition-failed"}, Description: "If-Match is not the current revision."}
	needIf   = hub.Response{Status: http.StatusPreconditionRequired, Problems: []string{"precondition-required"}, Description: "If-Match is missing."}
	invalid  = hub.Response{Status: http.StatusUnprocessableEntity, Problems: []string{"validation"}, Description: "Every failing field is listed; nothing was stored."}
)

func nodeAlliances(d *hub.OpenAPI) {
	id := d.PathParam("id", "An Alliance id.", d.Str(""))
	ifMatch := func(required bool, desc string) hub.Param {
		return hub.Param{In: "header", Name: "If-Match", Required: required, Description: desc, Schema: d.Str("")}
	}
	optIf := ifMatch(false, "Optional: the revision last read (its ETag, quoted or not; `*` for any); stale: 412.")
	etag := []hub.Header{{Name: "ETag", Description: `The revision, quoted: "<rev>".`, Required: true, Schema: d.Str("")}}
	alliance := func(desc string) hub.Response {
		return hub.Response{Status: 200, Description: desc, Content: d.JSON(d.Ref("Alliance")), Headers: etag}
	}
	lifecycle := func(path, summary, desc, body string) {
		d.Add("POST", "/v1/alliances/{id}/"+path, hub.Operation{Tag: "alliances", Summary: summary, Description: desc,
			Roles: writers, Params: []hub.Param{id, optIf},
			Body:      &hub.Body{Required: true, Content: d.JSON(d.Ref(body))},
			Responses: []hub.Response{alliance("The Alliance's new revision (or the current one when nothing changed)."), notFound, gone, stale, invalid},
		})
	}

	d.Add("POST", "/v1/alliances", hub.Operation{Tag: "alliances", Summary: "Create an Alliance",
		Description: "The node completes the record (docs/PROTOCOL.md section 6), validates it by the program's rules, gives it an id, signs it and queues it for the hub. At most 1 MiB.",
		Roles:       writers,
		Body:        &hub.Body{Required: true, Content: d.JSON(d.Ref("AllianceInput"))},
		Responses: []hub.Response{
			{Status: 201, Description: "The stored Alliance with its id and rev.", Content: d.JSON(d.Ref("Alliance")),
				Headers: append([]hub.Header{{Name: "Location", Description: "/v1/alliances/{id}", Required: true, Schema: d.Str("")}}, etag...)},
			invalid,
		},
	})
	d.Add("GET", "/v1/alliances", hub.Operation{Tag: "alliances", Summary: "This program's Alliances",
		Description: "In id order, filtered as the roster is. Every invalid parameter is named in one 400 answer. `format=csv` answers every match as CSV (docs/CSV.md), not paged.",
		Params: []hub.Param{
			d.Query("program", "A program code, as on the roster: this node's matches every record, another program's none.", d.Str("")),
			d.Query("level", "One of the program's levels.", d.Enum("", string(schema.LevelNational), string(schema.LevelRegional), string(schema.LevelArea), string(schema.LevelState))),
			d.Query("status", "The recorded status.", d.Enum("", string(schema.StatusDraft), string(schema.StatusActive), string(schema.StatusRenewed), string(schema.StatusConcluded), string(schema.StatusTerminated), string(schema.StatusAmbassador))),
			d.Query("standing", "The standing on as_of.", d.Enum("", string(schema.StandingDraft), string(schema.StandingActive), string(schema.StandingExpiring), string(schema.StandingExpired), string(schema.StandingConcluded), string(schema.StandingTerminated), string(schema.StandingAmbassador))),
			d.Query("as_of", "Default: today in the program's time zone.", d.Day("")),
			d.Query("category", "One of the program's own category codes or labels, or a national category.", d.Str("")),
			d.Query("q", "Text found in any participant's name, ignoring case.", d.Str("")),
			d.Query("format", "", d.Enum("", "json", "csv")),
			d.Limit(DefaultPageSize, MaxPageSize),
			d.PageToken(),
		},
		Responses: []hub.Response{
			{Status: 200, Description: "A page (JSON), or every match as CSV (attachment `<PROGRAM>-alliances-<date>.csv`).",
				Content: map[string]hub.Schema{echo.MIMEApplicationJSON: d.Ref("AlliancePage"), "text/csv": d.Str("")}},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Every invalid parameter (a page_token the node did not issue among them), named in errors."},
		},
	})
	d.Add("GET", "/v1/alliances/{id}", hub.Operation{Tag: "alliances", Summary: "One Alliance",
		Params:    []hub.Param{id},
		Responses: []hub.Response{alliance("The current revision."), notFound, gone},
	})
	d.Add("PUT", "/v1/alliances/{id}", hub.Operation{Tag: "alliances", Summary: "Replace an Alliance",
		Description: "A complete Alliance body; what GET answers can be sent back as it is (id, rev and expires_on must then match). Left-out status keeps the current one; renewals, termination, conclusion, Ambassador status and addenda change only through their operations. A body identical to the current revision makes no new revision.",
		Roles:       writers,
		Params:      []hub.Param{id, ifMatch(true, "The revision last read (its ETag; `*` for any).")},
		Body:        &hub.Body{Required: true, Content: d.JSON(d.Ref("AllianceInput"))},
		Responses:   []hub.Response{alliance("The new revision."), notFound, gone, stale, needIf, invalid},
	})
	lifecycle("renew", "Renew an Alliance", "Appends a renewal and sets status renewed. Only an active or renewed Alliance.", "RenewRequest")
	lifecycle("terminate", "Record written notice of termination", "Status terminated, effective 30 days after notice (CSP 04-01-001 XIV). Not a draft, nor a terminated, concluded or Ambassador Alliance.", "TerminateRequest")
	lifecycle("conclude", "Conclude an Alliance", "Only an active, renewed or Ambassador Alliance.", "ConcludeRequest")
	lifecycle("ambassador", "Make an Alliance an Ambassador", "Only where the program offers it, once the initial term and one renewal term are completed (seed 001).", "AmbassadorRequest")
	lifecycle("addenda", "Record an addendum: participants join or leave", "participants becomes the current signatories; addenda keeps the history.", "AddendumRequest")
	d.Add("DELETE", "/v1/alliances/{id}", hub.Operation{Tag: "alliances", Summary: "Delete a draft",
		Description: "Ends a draft with a signed tombstone, synced like any change. A signed Alliance is never deleted.",
		Roles:       writers,
		Params:      []hub.Param{id, optIf, d.Query("reason", "Kept in the tombstone.", d.Str(""))},
		Responses: []hub.Response{
			{Status: 200, Description: "The tombstone's revision.", Content: d.JSON(d.Ref("Deleted"))},
			notFound, gone, stale, invalid,
			{Status: http.StatusConflict, Problems: []string{"not-a-draft"}, Description: "The Alliance was signed: it concludes or is terminated instead."},
		},
	})
	d.Add("POST", "/v1/alliances/{id}/resolve", hub.Operation{Tag: "alliances", Summary: "Resolve a conflict on this program's Alliance",
		Description: "Writes a revision that follows the node's current one and names every other branch's latest revision as resolved, with the node's current content or that of the competing revision `take`. The body may be empty.",
		Roles:       writers,
		Params:      []hub.Param{id, ifMatch(true, "The node's current revision of the Alliance (its ETag).")},
		Body:        &hub.Body{Content: d.JSON(d.Ref("ResolveRequest"))},
		Responses: []hub.Response{alliance("The resolving revision."), notFound, gone, stale, needIf,
			{Status: http.StatusConflict, Problems: []string{"not-conflicted"}, Description: "The replica shows no conflict on this record (sync first)."},
			{Status: http.StatusUnprocessableEntity, Problems: []string{"validation"}, Description: "take is not one of the competing revisions, or the content fails the program's rules."},
		},
	})
}

func nodeReports(d *hub.OpenAPI) {
	id := d.PathParam("id", "An Alliance id.", d.Str(""))
	asOf := d.Query("as_of", "Default: today in the program's time zone.", d.Day(""))
	etag := hub.Header{Name: "ETag", Description: `The report's revision, quoted.`, Required: true, Schema: d.Str("")}
	d.Add("POST", "/v1/alliances/{id}/reports", hub.Operation{Tag: "reports", Summary: "Add or revise a report",
		Description: "A new period's report needs no If-Match (one sent is 412). Revising an existing period's report needs If-Match with its current revision (`*` for any). Sending the identical report again writes nothing and answers 200. A 422 is answered before the precondition is checked.",
		Roles:       writers,
		Params:      []hub.Param{id, {In: "header", Name: "If-Match", Description: "To revise a period's report: its current revision.", Schema: d.Str("")}},
		Body:        &hub.Body{Required: true, Content: d.JSON(d.Ref("ReportInput"))},
		Responses: []hub.Response{
			{Status: 201, Description: "A new period's report.", Content: d.JSON(d.Ref("Report")),
				Headers: []hub.Header{etag, {Name: "Location", Description: "/v1/alliances/{id}/reports/{period}", Required: true, Schema: d.Str("")}}},
			{Status: 200, Description: "The period's report revised, or unchanged.", Content: d.JSON(d.Ref("Report")), Headers: []hub.Header{etag}},
			notFound, gone, stale, needIf, invalid,
		},
	})
	d.Add("GET", "/v1/alliances/{id}/reports", hub.Operation{Tag: "reports", Summary: "An Alliance's reports",
		Params:    []hub.Param{id},
		Responses: []hub.Response{{Status: 200, Description: "Oldest period first (one page).", Content: d.JSON(d.Ref("ReportList"))}, notFound, gone},
	})
	d.Add("GET", "/v1/alliances/{id}/reports/{period}", hub.Operation{Tag: "reports", Summary: "One report",
		Params: []hub.Param{id, d.PathParam("period", "YYYY-Qn, YYYY-Hn or YYYY-annual.", d.Str(""))},
		Responses: []hub.Response{{Status: 200, Description: "The report.", Content: d.JSON(d.Ref("Report")), Headers: []hub.Header{etag}},
			{Status: http.StatusNotFound, Problems: []string{"not-found"}, Description: "No such Alliance, or no report for the period."}, gone},
	})
	d.Add("POST", "/v1/alliances/{id}/reports/{period}/resolve", hub.Operation{Tag: "reports", Summary: "Resolve a conflict on this program's report",
		Description: "As an Alliance's resolve: writes a revision of the period's report that follows the node's current one and names every other branch's latest revision as resolved, with the node's current content or that of the competing revision `take`, checked against the program's rules for the Alliance. The body may be empty.",
		Roles:       writers,
		Params: []hub.Param{id, d.PathParam("period", "YYYY-Qn, YYYY-Hn or YYYY-annual.", d.Str("")),
			{In: "header", Name: "If-Match", Required: true, Description: "The node's current revision of the report (its ETag; `*` for any).", Schema: d.Str("")}},
		Body: &hub.Body{Content: d.JSON(d.Ref("ResolveRequest"))},
		Responses: []hub.Response{{Status: 200, Description: "The resolving revision.", Content: d.JSON(d.Ref("Report")), Headers: []hub.Header{etag}},
			{Status: http.StatusNotFound, Problems: []string{"not-found"}, Description: "No such Alliance, or no report for the period."}, gone, stale, needIf,
			{Status: http.StatusConflict, Problems: []string{"not-conflicted"}, Description: "The replica shows no conflict on this report (sync first)."},
			{Status: http.StatusUnprocessableEntity, Problems: []string{"validation"}, Description: "take is not one of the competing revisions, or the content fails the program's rules for the Alliance."},
		},
	})
	d.Add("GET", "/v1/alliances/{id}/compliance", hub.Operation{Tag: "reports", Summary: "An Alliance's compliance",
		Params: []hub.Param{id, asOf},
		Responses: []hub.Response{{Status: 200, Description: "What it owes and has done on as_of.", Content: d.JSON(d.Ref("Compliance"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "as_of is not a date YYYY-MM-DD."}, notFound, gone},
	})
	d.Add("GET", "/v1/calendar", hub.Operation{Tag: "reports", Summary: "The program's compliance calendar",
		Description: "Items dated from `from` to `to`, plus whatever is outstanding on as_of whatever its date, by date.",
		Params: []hub.Param{asOf,
			d.Query("from", "Default: as_of.", d.Day("")),
			d.Query("to", "Default: from plus 90 days; at most "+strconv.Itoa(maxCalendarDays)+" days after from, not before it.", d.Day("")),
			d.Query("alliance_id", "One Alliance.", d.Str("")),
			d.Query("kind", "", d.Enum("", calendarKinds...)),
			d.Query("state", "", d.Enum("", calendarStates...)),
			d.Limit(DefaultPageSize, MaxPageSize), d.PageToken()},
		Responses: []hub.Response{{Status: 200, Description: "The calendar.", Content: d.JSON(d.Ref("Calendar"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Every invalid parameter (a page_token the node did not issue among them), named in errors."},
			{Status: http.StatusNotFound, Problems: []string{"not-found"}, Description: "alliance_id names no Alliance."},
			{Status: http.StatusGone, Problems: []string{"deleted"}, Description: "alliance_id names a deleted draft."}},
	})
	flag := func(name, desc string) hub.Param {
		return d.Query(name, desc+" true or false (1, 0, t, f, ...).", d.Enum("", "1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"))
	}
	d.Add("POST", "/v1/import", hub.Operation{Tag: "alliances", Summary: "Import Alliances from CSV",
		Description: "The file is checked whole, then each row's outcome streams back as NDJSON as its chunk is written: an ImportStart line, one ImportRow per data row, then an ImportSummary (or an ImportFailure when the node could not store the rows). docs/CSV.md.",
		Roles:       writers,
		Params: []hub.Param{flag("dry_run", "Check and detect duplicates; write nothing."),
			flag("all_or_nothing", "Write every row, or none if any fails."),
			flag("allow_extra", "Ignore unknown columns.")},
		Body: &hub.Body{Required: true, Description: "At most " + strconv.Itoa(MaxImportBytes) + " bytes.", Content: map[string]hub.Schema{"text/csv": d.Str("")}},
		Responses: []hub.Response{
			{Status: 200, Description: "One JSON object a line: ImportStart, ImportRow..., then ImportSummary or ImportFailure.", Content: map[string]hub.Schema{"application/x-ndjson": d.Str("")}},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "A flag that is not true or false; a body that cannot be read."},
			{Status: 413, Problems: []string{"too-large"}, Description: "Over " + strconv.Itoa(MaxImportBytes) + " bytes."},
			{Status: 415, Problems: []string{"unsupported-media-type"}, Description: "Not text/csv."},
			{Status: 422, Problems: []string{"csv-empty", "csv-no-header", "csv-missing-column", "csv-unknown-column", "csv-duplicate-column", "csv-encoding", "csv-syntax", "csv-too-many-rows"}, Description: "The file was refused before anything was written."},
		},
	})
}

func nodeSync(d *hub.OpenAPI) {
	d.Add("POST", "/v1/sync", hub.Operation{Tag: "sync", Summary: "Sync now",
		Description: "Pushes the outbox, then pulls the change feed into the replica. Always 200 when a run took place, with `error` when it failed.",
		Roles:       writers,
		Params:      []hub.Param{d.Query("backstop", "true: also compare digests with the hub and repair what differs.", d.Enum("", "true", "false"))},
		Responses: []hub.Response{
			{Status: 200, Description: "The run's counts.", Content: d.JSON(d.Ref("SyncResult"))},
			{Status: 400, Problems: []string{"invalid-request"}, Description: "backstop is not true or false."},
			{Status: http.StatusConflict, Problems: []string{"sync-running"}, Description: "A run is in progress."},
		},
	})
	d.Add("GET", "/v1/sync/status", hub.Operation{Tag: "sync", Summary: "The last push and pull",
		Responses: []hub.Response{{Status: 200, Description: "The sync state.", Content: d.JSON(d.Ref("SyncStatus"))}},
	})
	d.Add("POST", "/v1/keys/rotate", hub.Operation{Tag: "keys", Summary: "Rotate the node's key",
		Description: "Makes a new key, announces it to the hub signed with the current key, and signs with the new key once the hub has enrolled it (docs/PROTOCOL.md section 2, Rotating a node's key). The body may be empty.",
		Roles:       writers,
		Body:        &hub.Body{Content: d.JSON(d.Ref("RotateRequest")), AnyMediaType: true, Description: "JSON, whatever the Content-Type says; may be empty."},
		Responses: []hub.Response{
			{Status: 200, Description: "The keys before and after.", Content: d.JSON(d.Ref("RotateResult"))},
			{Status: http.StatusConflict, Problems: []string{"no-key-file", "sync-running"}, Description: "The node was started without a key file; a sync is in progress."},
			{Status: http.StatusBadGateway, Problems: []string{"rotation-failed"}, Description: "The hub refused the new key or could not be reached; the node keeps its key."},
		},
	})
	noReplica := hub.Response{Status: http.StatusServiceUnavailable, Problems: []string{"no-replica"}, Description: "The node has not pulled the national roster yet."}
	d.Add("GET", "/v1/roster", hub.Operation{Tag: "roster", Summary: "The node's replica of the national roster",
		Description: "The hub's parameters and answer (GET /v1/roster on the hub), from the replica as of the last pull; JSON pages carry `replica`.",
		Params:      d.RosterParams("the program's time zone"),
		Responses: []hub.Response{d.RosterAnswers(),
			{Status: 400, Problems: []string{"invalid-request"}, Description: "Invalid parameters (all named in `errors`), or a page_token the node did not issue."},
			noReplica},
	})
	d.Add("GET", "/v1/roster/{id}", hub.Operation{Tag: "roster", Summary: "One Alliance of the replica with its history",
		Params: []hub.Param{d.PathParam("id", "A record id.", d.Str("")), d.Query("as_of", "Default: today in the program's time zone.", d.Day(""))},
		Responses: []hub.Response{{Status: 200, Description: "As the hub answers, without `node`.", Content: d.JSON(d.Ref("RosterEntry"))},
			{Status: http.StatusNotFound, Problems: []string{"not-found"}, Description: "The replica does not hold this id."},
			{Status: http.StatusBadRequest, Problems: []string{"invalid-request"}, Description: "as_of is not a date YYYY-MM-DD."},
			noReplica},
	})
	d.Add("GET", "/v1/conflicts", hub.Operation{Tag: "roster", Summary: "Conflicts on this program's records",
		Description: "As the replica shows them, with the revision this node holds (`local_rev`).",
		Responses:   []hub.Response{{Status: 200, Description: "Every conflict (one page).", Content: d.JSON(d.Ref("LocalConflictList"))}},
	})
}
