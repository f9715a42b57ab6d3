package hub

import (
	"sync"
	"time"
	"unsafe"

	"github.com/alliancehub/alliancehub/hub/wire"
	"github.com/alliancehub/alliancehub/schema"
	"github.com/hashicorp/go-memdb"
)

// What roster queries keep for later queries: an item's compliance (most of what
// computing an item costs, schema.ComplianceThrough), its links and its JSON, and the
// totals of filters. Each is kept under everything it depends on, so nothing kept is
// ever stale: the slot (a write of the entry or of one of its Alliance's reports makes
// a new one), the as_of date, the links table's version, the signing key's revocation,
// the index snapshot. The caches are bounded; exports read them but do not fill them.

// itemKey is what a roster item's JSON depends on: the slot (its entry, its reports),
// the day, the links table's version (linksVersion) and the revocation of the key that
// signed it (keys are replaced, revocation time and all, when revoked).
type itemKey struct {
	slot    *rosterSlot
	asOf    schema.Date
	links   <-chan struct{}
	revoked *time.Time
}

// itemCache holds roster items' JSON, in shards of at most maxItems/itemShards, each
// emptied when full.
type itemCache struct {
	shards [itemShards]struct {
		mu sync.RWMutex
		m  map[itemKey][]byte
	}
}

const (
	itemShards = 64
	maxItems   = 1 << 14
)

func (c *itemCache) get(k itemKey) ([]byte, bool) {
	sh := &c.shards[uintptr(unsafe.Pointer(k.slot))/64%itemShards]
	sh.mu.RLock()
	b, ok := sh.m[k]
	sh.mu.RUnlock()
	return b, ok
}

func (c *itemCache) put(k itemKey, b []byte) {
	sh := &c.shards[uintptr(unsafe.Pointer(k.slot))/64%itemShards]
	sh.mu.Lock()
	if sh.m == nil || len(sh.m) >= maxItems/itemShards {
		sh.m = map[itemKey][]byte{}
	}
	sh.m[k] = b
	sh.mu.Unlock()
}

// linkCache holds records' links (linksOf) for one version of the links table: the
// watch channel of the root of its id index, which memdb replaces, channel and all,
// with any change to the table, so one channel is one content.
type linkCache struct {
	mu  sync.RWMutex
	ver <-chan struct{}
	m   map[string][]wire.Link
}

// linksVersion is the version of txn's links table.
func linksVersion(txn *memdb.Txn) <-chan struct{} {
	it, err := txn.Get(tableLinks, indexID)
	if err != nil {
		return nil
	}
	return it.WatchCh()
}

// of is linksOf(txn, id), where ver is linksVersion(txn); keep says to keep what it
// reads for later queries.
func (c *linkCache) of(txn *memdb.Txn, ver <-chan struct{}, id string, keep bool) ([]wire.Link, error) {
	c.mu.RLock()
	l, ok := c.m[id]
	ok = ok && c.ver == ver && ver != nil
	c.mu.RUnlock()
	if ok {
		return l, nil
	}
	l, err := linksOf(txn, id)
	if err != nil || ver == nil || !keep {
		return l, err
	}
	c.mu.Lock()
	if c.ver != ver || c.m == nil || len(c.m) >= maxCompliance {
		c.ver, c.m = ver, map[string][]wire.Link{}
	}
	c.m[id] = l
	c.mu.Unlock()
	return l, nil
}

// The compliance cache: compShards maps, each of at most maxCompliance/compShards
// entries, emptied when full.
const (
	compShards    = 64
	maxCompliance = 1 << 16
)

type compShard struct {
	mu sync.RWMutex
	m  map[compKey]*itemCompliance
}

type compKey struct {
	slot *rosterSlot
	asOf schema.Date
}

// compliance is the compliance of s's Alliance as of asOf, computed by compute once
// for the slot and day, or every time if keep is false.
func (sh *indexShared) compliance(s *rosterSlot, asOf schema.Date, keep bool, compute func() (*itemCompliance, error)) (*itemCompliance, error) {
	k := compKey{s, asOf}
	shard := &sh.comp[uintptr(unsafe.Pointer(s))/64%compShards]
	shard.mu.RLock()
	c, ok := shard.m[k]
	shard.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := compute()
	if err != nil || !keep {
		return c, err
	}
	shard.mu.Lock()
	if shard.m == nil || len(shard.m) >= maxCompliance/compShards {
		shard.m = map[compKey]*itemCompliance{}
	}
	shard.m[k] = c
	shard.mu.Unlock()
	return c, nil
}

// countKey is a query's indexed filters on one snapshot of the index: what its total
// depends on.
type countKey struct {
	ix                *rosterIndex
	program, category string
	level             schema.Level
	status            schema.Status
	standing          uint8 // its code + 1; 0: any
	day               int32 // with a standing
}

// countCache holds the totals of queries' indexed filters, at most maxCounts, emptied
// when full: intersecting a million ordinals' bit sets reads hundreds of kilobytes,
// and the same filters come back, page after page and client after client.
type countCache struct {
	mu sync.Mutex
	m  map[countKey]int
}

const maxCounts = 1024

// count is the total of k, counted by counting once per snapshot.
func (c *countCache) count(k countKey, counting func() int) int {
	c.mu.Lock()
	n, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return n
	}
	n = counting()
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCounts {
		c.m = map[countKey]int{}
	}
	c.m[k] = n
	c.mu.Unlock()
	return n
}
