// Package deploy holds no code of its own: its tests check docker-compose.yml,
// the Dockerfile and the reference in docs/ (configuration table, links) at
// the repository root against the binaries, and draw the package graph in
// README.md from `go list`. The Kubernetes manifests,
// Prometheus alerts and Grafana dashboard beside it are checked by the
// nested module deploy/checks, which `make test` also runs. It is this
// project's code, not a public API.
package deploy
