// Package lifecycle takes a watch party from SCHEDULED to gone from Redis: it
// runs the party scheduler of the flusher binary.
//
// A party's life, end to end, and the file that does each step:
//
//  1. Creation: the gateway's REST API inserts the row as SCHEDULED
//     (internal/gateway/api.go, internal/store/parties.go).
//  2. Schedule: once its start time passed, a pass of the scheduler moves
//     it to ONGOING (Scheduler.Advance in advance.go, the guarded UPDATE in
//     internal/store/schedule.go). Viewers may join and send events from then on
//     (internal/gateway/ws.go, internal/stream/appender.go).
//  3. Viewer samples: at every multiple of the sample interval each ONGOING
//     party's viewer count is appended to its stream as a viewer-count
//     event, with an id derived from party and moment, through a narrow
//     writer (Scheduler.Sample in samples.go, internal/stream/writer.go); the
//     flusher stores it like any event.
//  4. End: at its end time, or once the host asked to end it (the REST
//     end endpoint sets end_requested_at, internal/gateway/api.go), a pass moves
//     it to FINISHED; a party whose whole slot was missed goes from
//     SCHEDULED to FINISHED; a cancelled one is CANCELLED already
//     (Scheduler.Advance, internal/store/schedule.go).
//  5. Close: a party over but still registered for flushing is closed to
//     writes; its gateways hear "!ended" on its channel and hand their
//     viewers party_ended (Scheduler.Finish in finish.go, internal/stream
//     lifecycle.go, internal/room).
//  6. Final flush: everything it buffered is written through the Flusher
//     interface, which *flusher.Flusher satisfies, and the scheduler checks
//     that nothing is left unacknowledged (finish.go, internal/flusher).
//  7. Cleanup: its peak viewers are recorded, then its stream and other
//     keys are removed and it is unregistered; the ended marker stays so a
//     late event is refused (finish.go, internal/stream/lifecycle.go).
//
// A failed step is logged and retried on the next pass, keys kept.
//
// The scheduler loop (scheduler.go) acts only while this replica holds the
// lease wp:scheduler:lease (lease.go): every tick it takes or renews it;
// during a pass the lease is renewed every TTL/3, and the pass is cancelled
// when another replica holds it or it may have lapsed. On stop the lease is
// released, so another replica takes over at once. Each transition is also
// guarded in SQL by the status it leaves.
package lifecycle
