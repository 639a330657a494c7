package rdb

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// AppendCall is one call of lua/append.lua in an append round trip: the
// events it carries and, once the round trip ran, their answers.
type AppendCall struct {
	Events []AppendEvent
	cmd    *redis.Cmd
}

// Replies returns the call's answers, one per event, once RunAppends ran
// it: see AppendRepliesOf.
func (c *AppendCall) Replies() ([]AppendReply, error) { return AppendRepliesOf(c.cmd, len(c.Events)) }

// AppendRound is one round trip of appends: registrations, script calls
// and the WAIT that confirms them.
type AppendRound struct {
	Register []uuid.UUID // parties to add to RegistryKey first
	Now      time.Time   // the gateway's clock, for every call
	Limits   AppendBatchLimits
	Calls    []*AppendCall
	// MinReplicas > 0 ends the round with WAIT MinReplicas ReplicaTimeout.
	MinReplicas    int
	ReplicaTimeout time.Duration
}

// WaitReply is the answer of an append round's WAIT.
type WaitReply struct {
	Asked    bool  // the round ended with a WAIT
	Replicas int64 // replicas that confirmed the round's writes
	Err      error // the WAIT's own error
}

// RunAppends sends round in one pipeline: the SADDs of its registrations,
// its script calls, in order, and its WAIT, last, so that on the
// connection that wrote the batch (WAIT counts the replicas that reached
// that connection's last write). Its error is the pipeline's: a transport
// error (no call was answered) or the first command's error reply, which
// IsNoScript tells apart when the script must be loaded (LoadAppend) and
// the round run again.
func (s *Streams) RunAppends(ctx context.Context, round AppendRound) (WaitReply, error) {
	pipe := s.c.Pipeline()
	for _, p := range round.Register {
		pipe.SAdd(ctx, RegistryKey, p.String())
	}
	for _, c := range round.Calls {
		c.cmd = QueueAppends(ctx, pipe, round.Now, round.Limits, c.Events)
	}
	var wait *redis.Cmd
	if round.MinReplicas > 0 {
		// (Pipeliner lacks the Wait method.)
		wait = pipe.Do(ctx, "wait", round.MinReplicas, round.ReplicaTimeout.Milliseconds())
	}
	_, err := pipe.Exec(ctx)
	if wait == nil {
		return WaitReply{}, err
	}
	n, werr := wait.Int64()
	return WaitReply{Asked: true, Replicas: n, Err: werr}, err
}

// LoadAppend loads lua/append.lua (see the function LoadAppend).
func (s *Streams) LoadAppend(ctx context.Context) error { return LoadAppend(ctx, s.c) }

// AppendLoaded reports whether lua/append.lua is in the script cache.
func (s *Streams) AppendLoaded(ctx context.Context) (bool, error) { return AppendLoaded(ctx, s.c) }
