# Results Gateway image: a static binary on a small base, running as nonroot.
# It carries no configuration: mount yours at /etc/results-gateway/config.json
# (docs/config.docker.json is a starting point). Without one, or with the
# demo's published tokens on a non-loopback address, it refuses to start.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/gatewayd ./gateway/cmd/gatewayd && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatewayd /usr/local/bin/gatewayd
# A folder the nonroot user owns for the embedded store and file-drop outboxes.
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/results-gateway
WORKDIR /var/lib/results-gateway
ENV GATEWAY_CONFIG=/etc/results-gateway/config.json GATEWAY_DATA=/var/lib/results-gateway
VOLUME /var/lib/results-gateway
EXPOSE 8443 2575
# The image has no shell or curl: the gateway probes itself.
HEALTHCHECK --interval=15s --timeout=6s --retries=3 CMD ["/usr/local/bin/gatewayd", "health"]
ENTRYPOINT ["/usr/local/bin/gatewayd"]
