// Package room keeps each gateway process's viewers grouped by party and fans
// every entry of a party's stream out to them, encoded once per process.
package room
