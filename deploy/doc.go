// Package deploy holds no code of its own: its tests check docker-compose.yml and
// the Dockerfile at the repository root against the binaries and the SPEC's
// configuration variables. It is this project's code, not a public API.
package deploy
