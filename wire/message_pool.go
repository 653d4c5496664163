package wire

import (
	"sync"
	"unsafe"

	"github.com/arbiterhq/arbiter/engine"
)

// MessagePool keeps decision messages for reuse, so that the event of a
// decision costs no allocation once the sink gives its messages back
// (Message.Release). A message not given back is left to the garbage
// collector. Its zero value is ready to use; it is safe for concurrent
// use.
type MessagePool struct{ pool sync.Pool }

// maxPooledJSON bounds the JSON buffer a released message keeps: a larger
// one (an event with a large request) is left to the garbage collector.
const maxPooledJSON = 16 << 10

// newMessageJSON is the JSON buffer of a new message: a decision event of
// a usual request fits (1.5 kB with three cart lines).
const newMessageJSON = 2048

// Decision returns the message of d's event, as NewDecisionMessage does,
// from the pool: its JSON, ID, Key and Exposure are in memory of its own,
// valid until it is released.
func (mp *MessagePool) Decision(d *engine.Decision) *Message {
	m, _ := mp.pool.Get().(*Message)
	if m == nil {
		// A new message: room for a usual event at once (it would grow a
		// few times from nothing).
		m = &Message{JSON: make([]byte, 0, newMessageJSON)}
	}
	m.pool = mp
	var at int
	m.JSON, at = appendDecisionEvent(m.JSON[:0], d)
	m.RequestAt = at
	m.own = append(append(m.own[:0], d.DecisionID...), d.Placement...)
	m.own = AppendExposure(m.own, d)
	key := len(d.DecisionID) + len(d.Placement)
	m.ID = viewOf(m.own[:len(d.DecisionID)])
	m.Key = viewOf(m.own[len(d.DecisionID):key])
	m.Exposure = viewOf(m.own[key:])
	m.Kind = KindDecision
	return m
}

// Release gives m back to its pool when it came from one
// (MessagePool.Decision); else (or for nil) it does nothing. The sink calls it, once,
// when nothing reads m any more (the publisher: once the event is
// acknowledged, published or dropped); m and its strings must not be used
// after.
func (m *Message) Release() {
	if m == nil || m.pool == nil {
		return
	}
	mp := m.pool
	own, js := m.own[:0], m.JSON[:0]
	if cap(js) > maxPooledJSON {
		js = nil
	}
	*m = Message{JSON: js, own: own}
	mp.pool.Put(m)
}

// viewOf is a string over b (no copy).
func viewOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
