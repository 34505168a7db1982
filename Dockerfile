# Static build, then a distroless image that runs as nobody.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The image serves: headroom only. headroomtool (the generators, with their
# Kubernetes, Prometheus and Grafana packages) stays out of it.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /headroom ./cmd/headroom

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /headroom /usr/local/bin/headroom
COPY cmd/headroom/headroom.yml /etc/headroom/headroom.yml
USER 65534:65534
EXPOSE 9630
ENTRYPOINT ["/usr/local/bin/headroom", "serve"]
CMD ["--config.file=/etc/headroom/headroom.yml"]
