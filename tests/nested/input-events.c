/* input-events: prints what Linux's event devices deliver, one line per
 * struct input_event, as NESTED-L2-EV lines on the console for check.py.
 * Usage: input-events SECONDS LABEL=/dev/input/eventN...
 * Each device is first described (its name and, for ABS_X and ABS_Y, its
 * range); the program ends after SECONDS or when it is killed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEVICES 8

static const char *type_name(unsigned type)
{
    switch (type) {
    case EV_SYN: return "SYN";
    case EV_KEY: return "KEY";
    case EV_REL: return "REL";
    case EV_ABS: return "ABS";
    case EV_MSC: return "MSC";
    case EV_LED: return "LED";
    case EV_REP: return "REP";
    }
    return NULL;
}

/* Codes by name where the checks name them; keyboard keys stay numbers. */
static const char *code_name(unsigned type, unsigned code)
{
    if (type == EV_SYN && code == SYN_REPORT)
        return "SYN_REPORT";
    if (type == EV_SYN && code == SYN_DROPPED)
        return "SYN_DROPPED";
    if (type == EV_ABS && code == ABS_X)
        return "ABS_X";
    if (type == EV_ABS && code == ABS_Y)
        return "ABS_Y";
    if (type == EV_REL && code == REL_WHEEL)
        return "REL_WHEEL";
    if (type == EV_KEY && code == BTN_LEFT)
        return "BTN_LEFT";
    if (type == EV_KEY && code == BTN_RIGHT)
        return "BTN_RIGHT";
    if (type == EV_KEY && code == BTN_MIDDLE)
        return "BTN_MIDDLE";
    return NULL;
}

static void describe(const char *label, const char *path, int fd)
{
    char name[128] = "";
    struct input_absinfo x, y;

    if (ioctl(fd, EVIOCGNAME(sizeof(name) - 1), name) < 0)
        strcpy(name, "?");
    for (char *p = name; *p; p++)
        if (*p == ' ')
            *p = '_';
    printf("NESTED-L2-EV-DEVICE label=%s path=%s name=%s", label, path, name);
    if (ioctl(fd, EVIOCGABS(ABS_X), &x) == 0 && ioctl(fd, EVIOCGABS(ABS_Y), &y) == 0)
        printf(" abs_x=%d..%d abs_y=%d..%d", x.minimum, x.maximum, y.minimum, y.maximum);
    printf("\n");
}

int main(int argc, char **argv)
{
    struct pollfd pfd[MAX_DEVICES];
    const char *label[MAX_DEVICES];
    unsigned n = 0;
    time_t end;

    if (argc < 3 || argc - 2 > MAX_DEVICES) {
        fprintf(stderr, "usage: input-events SECONDS LABEL=/dev/input/eventN... (at most %d)\n",
                MAX_DEVICES);
        return 2;
    }
    /* Every event goes out as it comes, whatever stdout is. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    end = time(NULL) + atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        char *eq = strchr(argv[i], '=');

        if (!eq) {
            fprintf(stderr, "input-events: '%s' is not LABEL=PATH\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        pfd[n].fd = open(eq + 1, O_RDONLY | O_NONBLOCK);
        if (pfd[n].fd < 0) {
            printf("NESTED-L2-EV-OPEN-FAILED label=%s path=%s error=%s\n", argv[i], eq + 1,
                   strerror(errno));
            continue;
        }
        pfd[n].events = POLLIN;
        label[n] = argv[i];
        describe(argv[i], eq + 1, pfd[n].fd);
        n++;
    }
    printf("NESTED-L2-EV-LISTENING devices=%u\n", n);
    while (n && time(NULL) < end) {
        if (poll(pfd, n, 500) < 0) {
            if (errno == EINTR)
                continue;
            perror("input-events: poll");
            return 1;
        }
        for (unsigned i = 0; i < n; i++) {
            struct input_event ev[16];
            ssize_t got;

            if (!(pfd[i].revents & POLLIN))
                continue;
            got = read(pfd[i].fd, ev, sizeof(ev));
            for (ssize_t k = 0; got > 0 && k < got / (ssize_t)sizeof(ev[0]); k++) {
                const char *t = type_name(ev[k].type), *c = code_name(ev[k].type, ev[k].code);

                printf("NESTED-L2-EV %s ", label[i]);
                if (t)
                    printf("%s ", t);
                else
                    printf("%u ", ev[k].type);
                if (c)
                    printf("%s ", c);
                else
                    printf("%u ", ev[k].code);
                printf("%d\n", ev[k].value);
            }
        }
    }
    printf("NESTED-L2-EV-END\n");
    return 0;
}
