/* The pod sandbox's process for `make test-cri`: what Kubernetes' pause container does —
 * hold the pod's namespaces, reap orphans, exit on SIGINT/SIGTERM. Built by the test with
 * `gcc -static` and packed as an OCI image, so nothing is downloaded. */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, 0, WNOHANG) > 0) {
    }
}

int main(void) {
    struct sigaction q = {.sa_handler = quit}, r = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
    sigaction(SIGINT, &q, 0);
    sigaction(SIGTERM, &q, 0);
    sigaction(SIGCHLD, &r, 0);
    for (;;) pause();
}
