package rdb

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed lua/user_conns.lua
var userConnsLua string

var userConnsScript = redis.NewScript(userConnsLua)

// AddUserConn changes pod's count of user's connections by delta (1 or
// -1), as the pod's change number seq, and returns whether it did and the
// user's total across live pods at now: an increase is refused while that
// total is at limit (0: no cap). The pod's entry is valid until expires
// (lua/user_conns.lua).
func AddUserConn(ctx context.Context, c redis.Scripter, user, pod string, delta int, seq int64, limit int,
	expires, now time.Time) (bool, int, error) {
	vals, err := userConnsScript.Run(ctx, c, []string{UserConnsKey(user)},
		pod, "add", delta, seq, limit, expires.UnixMilli(), now.UnixMilli()).Int64Slice()
	return userConnsReply(vals, err)
}

// SetUserConns writes pod's count of each user's connections in counts,
// as of the pod's change number seq and valid until expires, in one
// pipeline (lua/user_conns.lua). An entry that holds a change numbered
// after seq is left as it is, and a count of 0 removes the pod's entry.
// The error is the first command's that failed.
func SetUserConns(ctx context.Context, c redis.Cmdable, pod string, counts map[string]int, seq int64,
	expires, now time.Time) error {
	err := setUserConns(ctx, c, pod, counts, seq, expires, now)
	if IsNoScript(err) { // a restarted server: the pipeline only sends EVALSHA
		if err := userConnsScript.Load(ctx, c).Err(); err != nil {
			return err
		}
		err = setUserConns(ctx, c, pod, counts, seq, expires, now)
	}
	return err
}

func setUserConns(ctx context.Context, c redis.Cmdable, pod string, counts map[string]int, seq int64,
	expires, now time.Time) error {
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for user, n := range counts {
			userConnsScript.EvalSha(ctx, p, []string{UserConnsKey(user)},
				pod, "set", n, seq, 0, expires.UnixMilli(), now.UnixMilli())
		}
		return nil
	})
	return err
}

func userConnsReply(vals []int64, err error) (bool, int, error) {
	if err != nil {
		return false, 0, err
	}
	if len(vals) != 2 {
		return false, 0, fmt.Errorf("bad user_conns reply %v", vals)
	}
	return vals[0] == 1, int(vals[1]), nil
}
