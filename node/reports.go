package node

import (
	"errors"
	"fmt"
	"sort"

	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// ErrNoReport is a period the Alliance has no report for.
var ErrNoReport = errors.New("no report for that period")

// PutReport validates a report for Alliance allianceID against the program and the
// Alliance's term and writes it. The first report for a period creates it (created is
// true) and needs no ifMatch; a later one for the same period is its next revision (CSP
// 04-01-001 Appendix A reports are revised, not duplicated) and, like an Alliance's PUT,
// needs ifMatch naming the revision the caller last read ("*": any), so two clerks never
// overwrite each other's report unknowingly: without it ErrPreconditionRequired, stale
// ErrStaleRev. An ifMatch for a period with no report yet is stale too. A report
// identical to the current one writes nothing and needs no ifMatch, so a retried
// creation is harmless.
func (n *Node) PutReport(allianceID, ifMatch string, in *schema.Report) (out *schema.Report, created bool, err error) {
	n.writeMu.Lock()
	defer n.writeMu.Unlock()
	a, err := n.Get(allianceID)
	if err != nil {
		return nil, false, err
	}
	var errs schema.ValidationError
	if in.ID != "" && in.ID != schema.ReportID(allianceID, in.Period) {
		errs.Add("id", "is assigned by the node (the Alliance id, a dot and the period); leave it out")
	}
	if in.Rev != "" {
		errs.Add("rev", "is assigned by the node; leave it out (send the rev you read in If-Match)")
	}
	if in.AllianceID != "" && in.AllianceID != allianceID {
		errs.Add("alliance_id", fmt.Sprintf("is %q; the path names %s", in.AllianceID, allianceID))
	}
	in.AllianceID, in.Rev = allianceID, ""
	in.Normalize(n.program)
	in.ID = schema.ReportID(allianceID, in.Period)
	if err := in.ValidateFor(n.program, a); err != nil {
		var ve *schema.ValidationError
		errors.As(err, &ve)
		errs.Fields = append(errs.Fields, ve.Fields...)
	}
	if err := errs.Err(); err != nil {
		return nil, false, err
	}
	body, err := bodyFor(in)
	if err != nil {
		return nil, false, err
	}
	// Then the precondition, against the period's current report.
	cur, err := n.Report(allianceID, in.Period)
	switch {
	case errors.Is(err, ErrNoReport):
		if ifMatch != "" {
			return nil, false, &reportPrecondition{ErrStaleRev, fmt.Sprintf("%s has no report for %s yet; leave If-Match out to create it", allianceID, in.Period)}
		}
		cur = nil
	case err != nil:
		return nil, false, err
	case ifMatch != "" && ifMatch != "*" && ifMatch != cur.Rev:
		return nil, false, &reportPrecondition{ErrStaleRev, fmt.Sprintf("the report for %s has changed since you read it: you sent %s; it is now at %s", in.Period, ifMatch, cur.Rev)}
	}
	prev := ""
	if cur != nil {
		prevBody, err := bodyFor(cur)
		if err != nil {
			return nil, false, err
		}
		if sameBody(prevBody, body) && !n.hubRejected(cur.ID, cur.Rev) {
			return cur, false, nil
		}
		if ifMatch == "" {
			return nil, false, &reportPrecondition{ErrPreconditionRequired, fmt.Sprintf("If-Match is required to revise the report for %s: send the rev you last read (its ETag, %s now)", in.Period, cur.Rev)}
		}
		prev = cur.Rev
	}
	if _, err := n.writeLocked(revision{kind: schema.KindReport, id: in.ID, prev: prev, body: body}); err != nil {
		return nil, false, err
	}
	out, err = n.Report(allianceID, in.Period)
	return out, prev == "", err
}

// reportPrecondition is a failed If-Match on a report: it answers as the error it wraps
// (428 precondition-required, 412 precondition-failed), in words about the report.
type reportPrecondition struct {
	kind error
	msg  string
}

func (e *reportPrecondition) Error() string { return e.msg }
func (e *reportPrecondition) Unwrap() error { return e.kind }

// Report returns the current revision of Alliance allianceID's report for period.
func (n *Node) Report(allianceID, period string) (*schema.Report, error) {
	raw, err := n.db.Txn(false).First(tableReports, indexID, schema.ReportID(allianceID, period))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: %s %s", ErrNoReport, allianceID, period)
	}
	return raw.(*storedReport).Report, nil
}

// Reports lists an Alliance's reports, oldest period first.
func (n *Node) Reports(allianceID string) ([]*schema.Report, error) {
	out, err := reportsIn(n.db.Txn(false), allianceID)
	if err != nil {
		return nil, err
	}
	keys := make(map[*schema.Report]string, len(out))
	for _, r := range out {
		keys[r] = periodKey(r.Period)
	}
	sort.Slice(out, func(i, j int) bool { return keys[out[i]] < keys[out[j]] })
	return out, nil
}

// reportsIn lists an Alliance's reports as txn sees them, in no particular order.
func reportsIn(txn *memdb.Txn, allianceID string) ([]*schema.Report, error) {
	it, err := txn.Get(tableReports, indexAlliance, allianceID)
	if err != nil {
		return nil, err
	}
	out := []*schema.Report{}
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*storedReport).Report)
	}
	return out, nil
}

// periodKey orders periods by year, then quarters, halves and the annual report.
func periodKey(s string) string {
	p, err := schema.ParsePeriod(s)
	if err != nil {
		return s
	}
	order := map[schema.Cadence]int{schema.CadenceQuarterly: 0, schema.CadenceSemiannual: 1, schema.CadenceAnnual: 2}
	return fmt.Sprintf("%04d-%d-%d", p.Year, order[p.Cadence], p.N)
}

// Compliance computes Alliance id's compliance as of asOf.
func (n *Node) Compliance(id string, asOf schema.Date) (*schema.Compliance, error) {
	a, err := n.Get(id)
	if err != nil {
		return nil, err
	}
	reports, err := n.Reports(id)
	if err != nil {
		return nil, err
	}
	c := schema.ComplianceOf(a, n.program, reports, asOf)
	return &c, nil
}
