/* vps-probe-sysinfo SECONDS: run inside a VPS. Calls sysinfo(2) in a loop for SECONDS (a
 * millisecond's pause between calls) and prints one line at the end:
 *   calls N fails F first T0 last T1 max_ms M at TM avg_ms A uptime U sleep_max_ms S at TS
 * N calls made, F of them failed, T0 and T1 the wall-clock times (seconds) of the first and
 * last, M the longest one took in milliseconds (after the first 20, which start vpsd's writers)
 * and TM when it began, A the mean time a call took, U the uptime the last answer gave (the VPS's,
 * as vpsd answers it), S the longest the millisecond's pause took (a stall of the whole machine
 * shows there too) and TS when it began. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        double secs = argc > 1 ? atof(argv[1]) : 5;
        double first = now(), end = first + secs, last = first, max = 0, max_at = 0, sum = 0;
        double smax = 0, smax_at = 0;
        long calls = 0, fails = 0, uptime = -1;
        while (last < end) {
                struct sysinfo si;
                double a = now();
                int r = sysinfo(&si);
                double b = now();
                calls++;
                sum += b - a;
                fails += r != 0;
                if (r == 0)
                        uptime = si.uptime;
                if (calls > 20 && b - a > max) {
                        max = b - a;
                        max_at = a;
                }
                usleep(1000);
                last = now();
                if (last - b > smax) {
                        smax = last - b;
                        smax_at = b;
                }
        }
        printf("calls %ld fails %ld first %.3f last %.3f max_ms %.1f at %.3f avg_ms %.3f uptime "
               "%ld sleep_max_ms %.1f at %.3f\n",
               calls, fails, first, last, max * 1000, max_at,
               calls ? sum * 1000 / (double)calls : 0, uptime, smax * 1000, smax_at);
        return 0;
}
