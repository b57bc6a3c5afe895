/* A custom-runtime bootstrap in C, for the tests: a minimal HTTP/1.1 client of the Lambda
 * Runtime API. It answers each event with {"runtime":"c","bytes":N,"handler":"..."}, where N is
 * the size of the event, and reports an error instead when the event is exactly "\"fail\"". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char host[64];
static int port;

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, host, &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) { perror("connect"); exit(2); }
    return fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len) { ssize_t n = write(fd, data, len); if (n <= 0) exit(3); data += n; len -= n; }
}

/* Reads one response; returns its body (malloc'd) and copies the request id header if asked. */
static char *exchange(const char *request, size_t len, char *request_id, size_t *body_len) {
    int fd = dial();
    send_all(fd, request, len);
    size_t cap = 1 << 16, used = 0;
    char *buf = malloc(cap);
    char *end = NULL;
    while (!end) {
        if (used + 1 >= cap) { cap *= 2; buf = realloc(buf, cap); }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n <= 0) exit(4);
        used += n; buf[used] = 0;
        end = strstr(buf, "\r\n\r\n");
    }
    size_t content_length = 0;
    for (char *line = strstr(buf, "\r\n") + 2; line < end; line = strstr(line, "\r\n") + 2) {
        if (!strncasecmp(line, "Content-Length:", 15)) content_length = strtoul(line + 15, NULL, 10);
        if (request_id && !strncasecmp(line, "Lambda-Runtime-Aws-Request-Id:", 30)) {
            char *v = line + 30; while (*v == ' ') v++;
            size_t n = strcspn(v, "\r"); memcpy(request_id, v, n); request_id[n] = 0;
        }
    }
    size_t header_len = (end - buf) + 4;
    while (used < header_len + content_length) {
        if (used + 1 >= cap) { cap *= 2; buf = realloc(buf, cap); }
        ssize_t n = read(fd, buf + used, cap - used - 1);
        if (n <= 0) exit(5);
        used += n;
    }
    close(fd);
    char *body = malloc(content_length + 1);
    memcpy(body, buf + header_len, content_length); body[content_length] = 0;
    free(buf);
    *body_len = content_length;
    return body;
}

int main(void) {
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    const char *handler = getenv("_HANDLER");
    if (!api || sscanf(api, "%63[^:]:%d", host, &port) != 2) { fprintf(stderr, "no runtime api\n"); return 1; }
    printf("c bootstrap ready\n"); fflush(stdout);
    char request[512], id[128], reply[512];
    for (;;) {
        int n = snprintf(request, sizeof request,
            "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", api);
        size_t len;
        char *event = exchange(request, n, id, &len);
        const char *kind = "response";
        int body_n;
        if (strcmp(event, "\"fail\"") == 0) {
            kind = "error";
            body_n = snprintf(reply, sizeof reply, "{\"errorType\":\"CError\",\"errorMessage\":\"asked to fail\"}");
        } else {
            body_n = snprintf(reply, sizeof reply, "{\"runtime\":\"c\",\"bytes\":%zu,\"handler\":\"%s\"}", len, handler);
        }
        free(event);
        char head[512];
        int h = snprintf(head, sizeof head,
            "POST /2018-06-01/runtime/invocation/%s/%s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
            "Content-Type: application/json\r\nConnection: close\r\n\r\n", id, kind, api, body_n);
        char *msg = malloc(h + body_n);
        memcpy(msg, head, h); memcpy(msg + h, reply, body_n);
        free(exchange(msg, h + body_n, NULL, &len));
        free(msg);
    }
}
