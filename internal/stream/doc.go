// Package stream appends party events to Redis Streams, follows them live for
// fan-out, reads them back for viewers catching up and through the flushers'
// consumer group, and closes and removes a party's keys when it ends.
//
// The keys, Lua scripts and commands it uses are kept in package rdb, which
// it reaches through small interfaces (ports.go) that rdb.Streams
// implements; every key of one party carries the hash tag {<party_id>}, so
// on Redis Cluster a party lives on one slot and no command mixes parties.
package stream
