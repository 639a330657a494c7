# syntax=docker/dockerfile:1
# One image with both binaries; docker-compose.yml picks the command:
#   gateway | flusher run | flusher migrate | flusher replay-dlq ... | flusher dlq list
# wpclient rides along for container healthchecks (`wpclient ping --http ...`, the
# runtime image has no shell or curl) and for `docker compose run --rm migrate wpclient demo-party`.

FROM --platform=$BUILDPLATFORM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/gateway ./cmd/flusher ./cmd/wpclient

# Static binaries, no shell; runs as uid 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gateway /out/flusher /out/wpclient /usr/local/bin/
USER nonroot:nonroot
EXPOSE 8080 9090
# No ENTRYPOINT: the command names the binary, found on PATH (/usr/local/bin).
CMD ["gateway"]
