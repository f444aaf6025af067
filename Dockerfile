# Results Gateway image: a static binary on a small base.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/gatewayd ./gateway/cmd/gatewayd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/gatewayd /usr/local/bin/gatewayd
COPY gateway/cmd/gatewayd/demo.json /etc/results-gateway/config.json
ENV GATEWAY_CONFIG=/etc/results-gateway/config.json GATEWAY_DATA=/var/lib/results-gateway
VOLUME /var/lib/results-gateway
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/gatewayd"]
