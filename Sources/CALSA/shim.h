#include <alsa/asoundlib.h>
#include <stdarg.h>
#include <stdio.h>

/// ALSA prints its own diagnostics ("ALSA lib confmisc.c:855:(snd_func_card_id) cannot find card '0'")
/// straight to stderr. After ssast_alsa_route_messages() each one goes, formatted without the source
/// location, to ssast_alsa_message (defined in Swift, module Mic) instead.
void ssast_alsa_message(const char *message);

static void ssast_alsa_error_handler(const char *file, int line, const char *function, int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function;
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (err != 0 && (size_t)n < sizeof text) snprintf(text + n, sizeof text - (size_t)n, ": %s", snd_strerror(err));
    ssast_alsa_message(text);
}

static inline void ssast_alsa_route_messages(void) { snd_lib_error_set_handler(ssast_alsa_error_handler); }
