# Results Gateway image: a static binary on a small base, running as nonroot.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/gatewayd ./gateway/cmd/gatewayd && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatewayd /usr/local/bin/gatewayd
COPY gateway/cmd/gatewayd/demo.json /etc/results-gateway/config.json
# A folder the nonroot user owns: the embedded store, and the demo
# configuration's relative file-drop outboxes (./var/outbox/...), live here.
COPY --from=build --chown=nonroot:nonroot /out/data /var/lib/results-gateway
WORKDIR /var/lib/results-gateway
ENV GATEWAY_CONFIG=/etc/results-gateway/config.json GATEWAY_DATA=/var/lib/results-gateway
VOLUME /var/lib/results-gateway
EXPOSE 8080 2575
ENTRYPOINT ["/usr/local/bin/gatewayd"]
