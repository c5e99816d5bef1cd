# Multi-stage build: a static binary on a distroless, non-root base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/cloakroom ./cmd/cloakroom \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/cloakroom /usr/local/bin/cloakroom
# The data directory (CA, keys, embedded store) belongs to the nonroot user.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME ["/data"]
USER nonroot:nonroot
EXPOSE 8080 9090
# Inside a container, listen on all interfaces; publish the ports on loopback only
# (docker run -p 127.0.0.1:8080:8080 ...) unless agents reach it from elsewhere.
ENTRYPOINT ["/usr/local/bin/cloakroom"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--admin", "0.0.0.0:9090", "--data-dir", "/data"]
