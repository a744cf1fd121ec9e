/* The floor of the serving benchmarks: the least a static server can do on this machine.
 *
 *   cc -O2 -o floor bench/floor.c && ./floor PORT [THREADS]
 *
 * One epoll loop per thread, each with its own SO_REUSEPORT listener; every complete request head
 * (up to its blank line) is answered with one fixed, prepared HTTP/1.1 200 response with a 1 KiB
 * body, keep-alive, written with one send(2) per read. No parsing beyond finding "\r\n\r\n", no
 * files, no Date line. Nothing real serves like this; it shows how far any server is from free. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY 1024
#define MAX_EVENTS 256
#define BUFFER 16384

static char response[512 + BODY];
static size_t response_length;
static int port;

static int listener(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port)};
    address.sin_addr.s_addr = inet_addr("127.0.0.1");
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 4096) != 0) {
        perror("floor: bind/listen");
        exit(1);
    }
    return fd;
}

/* Bytes of a request head still being read, per connection (heads rarely straddle reads). */
struct connection {
    int fd;
    int tail; /* how many of "\r\n\r\n" the last read ended with */
};

static void *loop(void *unused) {
    (void)unused;
    int server = listener();
    int poll = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(poll, EPOLL_CTL_ADD, server, &event);
    struct epoll_event events[MAX_EVENTS];
    char buffer[BUFFER];
    char out[64 * (512 + BODY)];
    for (;;) {
        int ready = epoll_wait(poll, events, MAX_EVENTS, -1);
        for (int i = 0; i < ready; i++) {
            struct connection *c = events[i].data.ptr;
            if (c == NULL) {
                int fd;
                while ((fd = accept4(server, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct connection *made = calloc(1, sizeof *made);
                    made->fd = fd;
                    struct epoll_event add = {.events = EPOLLIN, .data.ptr = made};
                    epoll_ctl(poll, EPOLL_CTL_ADD, fd, &add);
                }
                continue;
            }
            ssize_t got = read(c->fd, buffer, sizeof buffer);
            if (got <= 0) {
                if (got < 0 && errno == EAGAIN) continue;
                close(c->fd);
                free(c);
                continue;
            }
            static const char end[] = "\r\n\r\n";
            size_t answers = 0;
            for (ssize_t k = 0; k < got; k++) {
                if (buffer[k] == end[c->tail]) {
                    if (++c->tail == 4) { answers++; c->tail = 0; }
                } else {
                    c->tail = buffer[k] == '\r' ? 1 : 0;
                }
            }
            size_t length = 0;
            while (answers > 0) {
                size_t batch = answers < 64 ? answers : 64;
                for (size_t a = 0; a < batch; a++) { memcpy(out + length, response, response_length); length += response_length; }
                answers -= batch;
                size_t sent = 0;
                while (sent < length) {
                    ssize_t wrote = send(c->fd, out + sent, length - sent, MSG_NOSIGNAL);
                    if (wrote <= 0) break;
                    sent += (size_t)wrote;
                }
                length = 0;
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: floor PORT [THREADS]\n"); return 2; }
    port = atoi(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    char body[BODY];
    memset(body, 'x', sizeof body);
    response_length = (size_t)snprintf(response, 512, "HTTP/1.1 200 OK\r\nServer: floor\r\nContent-Type: image/png\r\n"
                                       "Content-Length: %d\r\nETag: \"floor\"\r\n\r\n", BODY);
    memcpy(response + response_length, body, BODY);
    response_length += BODY;
    pthread_t started[64];
    for (int t = 0; t < threads && t < 64; t++) pthread_create(&started[t], NULL, loop, NULL);
    for (int t = 0; t < threads && t < 64; t++) pthread_join(started[t], NULL);
    return 0;
}
