# Multi-stage build: compile in the Go image, run from a small Debian base.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -ldflags "-s -w" -o /out/postdesk ./cmd/postdesk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/postdesk /usr/local/bin/postdesk
RUN useradd --system --home /var/lib/postdesk postdesk && mkdir -p /var/lib/postdesk && chown postdesk /var/lib/postdesk
USER postdesk
ENV POSTDESK_DATA_DIR=/var/lib/postdesk
EXPOSE 8080 2525
ENTRYPOINT ["postdesk"]
CMD ["serve"]
