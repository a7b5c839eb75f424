/*
 * The benchmark's compiled peer: both ends of every workload in plain C with
 * blocking sockets (and epoll for the concurrent echo server), the practical
 * limit the Python contenders are measured against.
 *
 *   peer server WORKLOAD FAMILY [NAME=VALUE...]
 *   peer client WORKLOAD FAMILY ADDRESS [NAME=VALUE...]
 *
 * FAMILY is vsock or unix; for unix the server's ADDRESS is given as
 * path=PATH.  The server prints "ready ADDRESS" once it listens, and one JSON
 * line with what it counted when its work is done; the client prints one JSON
 * line with its timing.  The exchange is the one tests/bench/exchange.py
 * describes.  Any count that is not what it should be exits 1.
 * seqpacket-ping-pong is vsock only, as in tests/bench/seqpacket_peers.py.
 *
 * tests/bench/compiled.py builds it with the machine's C compiler.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define RECV_SIZE (256 * 1024)
#define BACKLOG 1024
#define GO 'g'

static long long bulk_bytes, bulk_write, message, round_trips, connections,
    concurrent, echo_bytes;
static char path[108];
static unsigned char buffer[RECV_SIZE];

static void die(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fprintf(stderr, "peer: ");
    vfprintf(stderr, format, args);
    if (errno)
        fprintf(stderr, ": %s", strerror(errno));
    fprintf(stderr, "\n");
    va_end(args);
    exit(1);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int vsock;
/* SOCK_SEQPACKET for seqpacket-ping-pong, else SOCK_STREAM. */
static int socket_type = SOCK_STREAM;

static int new_socket(void)
{
    int fd = socket(vsock ? AF_VSOCK : AF_UNIX, socket_type, 0);
    if (fd < 0)
        die("socket");
    return fd;
}

static int listener(void)
{
    int fd = new_socket();
    if (vsock) {
        struct sockaddr_vm address = {.svm_family = AF_VSOCK,
                                      .svm_cid = VMADDR_CID_ANY,
                                      .svm_port = VMADDR_PORT_ANY};
        socklen_t size = sizeof address;
        if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0)
            die("bind");
        if (getsockname(fd, (struct sockaddr *)&address, &size) < 0)
            die("getsockname");
        snprintf(path, sizeof path, "%u", address.svm_port);
    } else {
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        snprintf(address.sun_path, sizeof address.sun_path, "%s", path);
        if (bind(fd, (struct sockaddr *)&address, sizeof address) < 0)
            die("bind %s", path);
    }
    if (listen(fd, BACKLOG) < 0)
        die("listen");
    return fd;
}

static int connect_to(const char *where)
{
    int fd = new_socket();
    int result;
    if (vsock) {
        struct sockaddr_vm address = {.svm_family = AF_VSOCK,
                                      .svm_cid = VMADDR_CID_LOCAL,
                                      .svm_port = atoi(where)};
        result = connect(fd, (struct sockaddr *)&address, sizeof address);
    } else {
        struct sockaddr_un address = {.sun_family = AF_UNIX};
        snprintf(address.sun_path, sizeof address.sun_path, "%s", where);
        result = connect(fd, (struct sockaddr *)&address, sizeof address);
    }
    if (result < 0)
        die("connect %s", where);
    return fd;
}

static void send_all(int fd, const void *data, size_t size)
{
    const char *at = data;
    while (size) {
        ssize_t sent = send(fd, at, size, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR)
                continue;
            die("send");
        }
        at += sent;
        size -= sent;
    }
}

/* Read exactly size bytes (into buffer, in pieces); die at an early EOF. */
static void recv_exactly(int fd, long long size)
{
    while (size > 0) {
        ssize_t got = recv(fd, buffer, size < RECV_SIZE ? size : RECV_SIZE, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            die("the peer closed %lld bytes early", size);
        size -= got;
    }
}

static long long drain(int fd)
{
    long long count = 0;
    for (;;) {
        ssize_t got = recv(fd, buffer, RECV_SIZE, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("recv");
        if (got == 0)
            return count;
        count += got;
    }
}

static long long echo(int fd)
{
    long long count = 0;
    for (;;) {
        ssize_t got = recv(fd, buffer, RECV_SIZE, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("recv");
        if (got == 0)
            return count;
        send_all(fd, buffer, got);
        count += got;
    }
}

/*
 * Receive one message into buffer, its whole length: MSG_TRUNC makes recv
 * return a message's real length even when the buffer is shorter, so one
 * larger than the buffer shows instead of passing cut short.  0 at EOF (no
 * message of the workload is empty).
 */
static long long recv_message(int fd)
{
    for (;;) {
        ssize_t got = recv(fd, buffer, RECV_SIZE, MSG_TRUNC);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("recv");
        if (got > RECV_SIZE) {
            errno = 0;
            die("a %zd-byte message, more than the %d-byte buffer", got, RECV_SIZE);
        }
        return got;
    }
}

/* One send is one message: the kernel sends it whole or fails. */
static void send_message(int fd, const void *data, size_t size)
{
    ssize_t sent;
    do
        sent = send(fd, data, size, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    if (sent < 0)
        die("send");
    if ((size_t)sent != size) {
        errno = 0;
        die("sent %zd bytes of a %zu-byte message", sent, size);
    }
}

static long status_field(const char *name)
{
    char line[256];
    size_t length = strlen(name);
    long value = -1;
    FILE *status = fopen("/proc/self/status", "r");
    if (!status)
        die("/proc/self/status");
    while (fgets(line, sizeof line, status))
        if (strncmp(line, name, length) == 0 && line[length] == ':')
            value = atol(line + length + 1);
    fclose(status);
    return value;
}

static void ready(void)
{
    printf("ready %s\n", path);
    fflush(stdout);
}

static void expect(const char *what, long long got, long long wanted)
{
    if (got != wanted) {
        errno = 0;
        die("%s: got %lld, expected %lld", what, got, wanted);
    }
}

static void serve_bulk(int server)
{
    int fd = accept(server, NULL, NULL);
    if (fd < 0)
        die("accept");
    long long count = drain(fd);
    uint64_t ack = htobe64(count);
    send_all(fd, &ack, sizeof ack);
    close(fd);
    expect("bytes received", count, bulk_bytes);
    printf("{\"connections\": 1, \"bytes\": %lld}\n", count);
}

static void serve_ping_pong(int server)
{
    int fd = accept(server, NULL, NULL);
    if (fd < 0)
        die("accept");
    long long count = echo(fd);
    close(fd);
    expect("bytes echoed", count, round_trips * message);
    printf("{\"connections\": 1, \"bytes\": %lld}\n", count);
}

static void serve_seqpacket_ping_pong(int server)
{
    long long messages = 0, count = 0, got;
    int fd = accept(server, NULL, NULL);
    if (fd < 0)
        die("accept");
    while ((got = recv_message(fd)) > 0) {
        send_message(fd, buffer, got);
        messages++;
        count += got;
    }
    close(fd);
    expect("messages echoed", messages, round_trips);
    expect("bytes echoed", count, round_trips * message);
    printf("{\"connections\": 1, \"bytes\": %lld, \"messages\": %lld}\n", count,
           messages);
}

static void serve_connect_close(int server)
{
    long long i;
    for (i = 0; i < connections; i++) {
        int fd = accept(server, NULL, NULL);
        if (fd < 0)
            die("accept");
        close(fd);
    }
    printf("{\"connections\": %lld, \"bytes\": 0}\n", i);
}

static void serve_concurrent_echo(int server)
{
    long rss_before = status_field("VmRSS"), threads_before = status_field("Threads");
    int poller = epoll_create1(0);
    int *fds = calloc(concurrent, sizeof *fds);
    long long made = 0, open = 0, count = 0;
    struct epoll_event event = {.events = EPOLLIN};
    struct epoll_event events[256];
    if (poller < 0 || !fds)
        die("epoll_create1");
    while (made < concurrent) {
        int fd = accept(server, NULL, NULL);
        if (fd < 0)
            die("accept");
        fds[made++] = fd;
    }
    long rss_idle = status_field("VmRSS"), threads_idle = status_field("Threads");
    for (long long i = 0; i < made; i++) {
        char go = GO;
        send_all(fds[i], &go, 1);
        event.data.fd = fds[i];
        if (epoll_ctl(poller, EPOLL_CTL_ADD, fds[i], &event) < 0)
            die("epoll_ctl");
    }
    open = made;
    while (open) {
        int ready_count = epoll_wait(poller, events, 256, -1);
        if (ready_count < 0 && errno == EINTR)
            continue;
        if (ready_count < 0)
            die("epoll_wait");
        for (int i = 0; i < ready_count; i++) {
            int fd = events[i].data.fd;
            ssize_t got = recv(fd, buffer, RECV_SIZE, MSG_DONTWAIT);
            if (got < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (got <= 0) {
                close(fd);
                open--;
                continue;
            }
            /* The echo fits in the socket's buffer: the client reads it all. */
            send_all(fd, buffer, got);
            count += got;
        }
    }
    expect("bytes echoed", count, concurrent * echo_bytes);
    printf("{\"connections\": %lld, \"bytes\": %lld, \"rss_before\": %ld, "
           "\"rss_idle\": %ld, \"threads_before\": %ld, \"threads_idle\": %ld}\n",
           made, count, rss_before * 1024, rss_idle * 1024, threads_before,
           threads_idle);
}

static void client_bulk(const char *where)
{
    char *chunk = malloc(bulk_write);
    uint64_t ack = 0;
    long long got = 0;
    if (!chunk)
        die("malloc");
    memset(chunk, 'x', bulk_write);
    int fd = connect_to(where);
    double start = now();
    for (long long sent = 0; sent < bulk_bytes; sent += bulk_write)
        send_all(fd, chunk, bulk_write);
    shutdown(fd, SHUT_WR);
    while (got < (long long)sizeof ack) {
        ssize_t more = recv(fd, (char *)&ack + got, sizeof ack - got, 0);
        if (more <= 0)
            die("no acknowledgement");
        got += more;
    }
    double elapsed = now() - start;
    close(fd);
    expect("bytes acknowledged", be64toh(ack), bulk_bytes);
    printf("{\"seconds\": %.9f, \"bytes\": %lld}\n", elapsed, bulk_bytes);
}

static void client_ping_pong(const char *where)
{
    char *text = malloc(message);
    if (!text)
        die("malloc");
    memset(text, 'p', message);
    int fd = connect_to(where);
    double start = now();
    for (long long i = 0; i < round_trips; i++) {
        send_all(fd, text, message);
        recv_exactly(fd, message);
    }
    double elapsed = now() - start;
    close(fd);
    printf("{\"seconds\": %.9f, \"round_trips\": %lld}\n", elapsed, round_trips);
}

static void client_seqpacket_ping_pong(const char *where)
{
    char *text = malloc(message);
    if (!text)
        die("malloc");
    memset(text, 'm', message);
    int fd = connect_to(where);
    double start = now();
    for (long long i = 0; i < round_trips; i++) {
        send_message(fd, text, message);
        /* One receive, one whole message: a merged or split echo fails. */
        expect("echoed message", recv_message(fd), message);
    }
    double elapsed = now() - start;
    close(fd);
    printf("{\"seconds\": %.9f, \"round_trips\": %lld}\n", elapsed, round_trips);
}

static void client_connect_close(const char *where)
{
    double start = now();
    for (long long i = 0; i < connections; i++) {
        int fd = connect_to(where);
        expect("bytes before the server's close", drain(fd), 0);
        close(fd);
    }
    double elapsed = now() - start;
    printf("{\"seconds\": %.9f, \"connections\": %lld}\n", elapsed, connections);
}

static void client_concurrent_echo(const char *where)
{
    int *fds = calloc(concurrent, sizeof *fds);
    char *payload = malloc(echo_bytes);
    if (!fds || !payload)
        die("malloc");
    memset(payload, 'e', echo_bytes);
    double start = now();
    for (long long i = 0; i < concurrent; i++)
        fds[i] = connect_to(where);
    for (long long i = 0; i < concurrent; i++)
        recv_exactly(fds[i], 1);
    for (long long i = 0; i < concurrent; i++)
        send_all(fds[i], payload, echo_bytes);
    for (long long i = 0; i < concurrent; i++)
        recv_exactly(fds[i], echo_bytes);
    double elapsed = now() - start;
    for (long long i = 0; i < concurrent; i++)
        close(fds[i]);
    printf("{\"seconds\": %.9f, \"connections\": %lld}\n", elapsed, concurrent);
}

static void set_size(const char *argument)
{
    static const struct {
        const char *name;
        long long *value;
    } names[] = {{"bulk_bytes", &bulk_bytes},   {"bulk_write", &bulk_write},
                 {"message", &message},         {"round_trips", &round_trips},
                 {"connections", &connections}, {"concurrent", &concurrent},
                 {"echo_bytes", &echo_bytes}};
    const char *equals = strchr(argument, '=');
    if (equals && strncmp(argument, "path=", 5) == 0) {
        snprintf(path, sizeof path, "%s", equals + 1);
        return;
    }
    for (size_t i = 0; equals && i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == (size_t)(equals - argument) &&
            strncmp(argument, names[i].name, equals - argument) == 0) {
            *names[i].value = atoll(equals + 1);
            return;
        }
    errno = 0;
    die("unknown argument %s", argument);
}

int main(int argc, char **argv)
{
    static const char *workloads[] = {"bulk", "ping-pong", "connect-close",
                                      "concurrent-echo", "seqpacket-ping-pong"};
    static void (*servers[])(int) = {serve_bulk, serve_ping_pong, serve_connect_close,
                                     serve_concurrent_echo, serve_seqpacket_ping_pong};
    static void (*clients[])(const char *) = {client_bulk, client_ping_pong,
                                              client_connect_close,
                                              client_concurrent_echo,
                                              client_seqpacket_ping_pong};
    static const int workload_count = sizeof workloads / sizeof workloads[0];
    int client, workload = -1, first_size, seqpacket;
    errno = 0;
    if (argc < 4)
        die("usage: peer server|client WORKLOAD vsock|unix [ADDRESS] [NAME=VALUE...]");
    client = strcmp(argv[1], "client") == 0;
    if (!client && strcmp(argv[1], "server") != 0)
        die("the role must be server or client, not %s", argv[1]);
    for (int i = 0; i < workload_count; i++)
        if (strcmp(argv[2], workloads[i]) == 0)
            workload = i;
    if (workload < 0)
        die("no workload %s", argv[2]);
    vsock = strcmp(argv[3], "vsock") == 0;
    if (!vsock && strcmp(argv[3], "unix") != 0)
        die("the family must be vsock or unix, not %s", argv[3]);
    seqpacket = strcmp(argv[2], "seqpacket-ping-pong") == 0;
    /* The benchmark has no AF_UNIX seqpacket contenders to compare with. */
    if (seqpacket && !vsock)
        die("seqpacket-ping-pong runs over vsock only, not %s", argv[3]);
    if (seqpacket)
        socket_type = SOCK_SEQPACKET;
    first_size = client ? 5 : 4;
    if (client && argc < 5)
        die("the client needs the server's address");
    for (int i = first_size; i < argc; i++)
        set_size(argv[i]);
    if (client) {
        clients[workload](argv[4]);
    } else {
        int server = listener();
        ready();
        servers[workload](server);
        close(server);
    }
    return 0;
}
