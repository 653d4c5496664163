package events

import (
	"time"
)

// parkedMsg is an event whose id the stream's leader answered 409,
// "duplicate message id is in process", on a stream where every event in
// flight asks for its own acknowledgement (a cluster's, or one that may
// refuse events: streamLimits.ackEvery).
// An earlier copy of it was staged for storing: it may be stored in a
// moment (a resend after a leader change; asked again, the stream then
// answers that it is a duplicate), or, after the cluster's nodes stalled,
// never, and then the leader answers 409 for that id until the duplicate
// window passes it (two minutes by default; nats-io/nats-server#6415 and
// #6486 cleared such ids on a leader change only). Before, the events
// after it waited in order, resent every second, for as long: at a
// thousand decisions a second the buffer would overflow in a minute. It
// now waits apart: the events after it go on, it is asked again after
// ReconnectWait, then after twice as long each time up to maxParkWait,
// and once the stream's duplicate window has passed it (nextAsk), and it
// is stored when the stream stores it, or dropped as any event is
// (refused for good, larger than a new server's max payload). It counts
// in InFlight, Stats().Buffered and Stats().Parked meanwhile, and is
// stored after the events behind it: the one exception to the stream's
// order.
type parkedMsg struct {
	outMsg
	since time.Time     // when it was parked
	next  time.Time     // when it is asked again (its fut is nil until then)
	wait  time.Duration // the pause before next, doubled at every 409
	tries int           // asked again so many times
}

// nextAsk is when pm is asked again after an answer at now: after its
// pause, or at since+window (the stream's duplicate window, and a margin)
// when that comes first and is still to come. An id staged before the
// event was parked is cleared by then, and the wait for a stuck id is
// the window, not the window and up to a pause more.
func (pm *parkedMsg) nextAsk(now time.Time, window time.Duration) time.Time {
	next := now.Add(pm.wait)
	if clear := pm.since.Add(window); now.Before(clear) && clear.Before(next) {
		return clear
	}
	return next
}

// maxParkWait bounds the pause between two asks for a parked event: once
// the duplicate window has passed its id, it is stored within that.
const maxParkWait = 30 * time.Second

// unpark releases parked[i], which is done with (stored, published or
// dropped), and returns parked without it.
func (p *Publisher) unpark(rc *recycler, parked []parkedMsg, i int) []parkedMsg {
	rc.putMsg(parked[i].msg)
	parked[i].ev.Release()
	p.inflight.Add(-1)
	copy(parked[i:], parked[i+1:])
	parked[len(parked)-1] = parkedMsg{}
	p.parked.Add(-1)
	return parked[:len(parked)-1]
}

// removeAt returns q without q[i]; the slot it frees at the end is
// cleared.
func removeAt(q []outMsg, i int) []outMsg {
	copy(q[i:], q[i+1:])
	q[len(q)-1] = outMsg{}
	return q[:len(q)-1]
}
