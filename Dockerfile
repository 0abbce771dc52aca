# Multi-stage build: fetch the UI's npm libraries, compile in the Go image, run from a
# small Debian base.
FROM node:20-bookworm-slim AS web
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=web /src/node_modules ./node_modules
RUN touch node_modules/.package-lock.json && make web-deps && \
    CGO_ENABLED=0 go build -ldflags "-s -w" -o /out/postdesk ./cmd/postdesk

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/postdesk /usr/local/bin/postdesk
RUN useradd --system --home /var/lib/postdesk postdesk && mkdir -p /var/lib/postdesk && chown postdesk /var/lib/postdesk
USER postdesk
ENV POSTDESK_DATA_DIR=/var/lib/postdesk
EXPOSE 8080 2525
ENTRYPOINT ["postdesk"]
CMD ["serve"]
