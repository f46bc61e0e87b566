/* lhttp.h - what the engine (task.c) and moonstep.core.http (lhttp.c)
 * agree on to make a handler's requests non-blocking: two registry keys.
 * While task.c resumes a handler's coroutine, LHTTP_CO_KEY holds that
 * thread and LHTTP_MULTI_KEY the engine's http_multi_t (a light
 * userdata); a request from that coroutine yields its http_xfer_t (a
 * light userdata) and expects to be resumed once the transfer ended.
 */
#ifndef MS_LHTTP_H
#define MS_LHTTP_H

#define LHTTP_CO_KEY    "moonstep.http.co"
#define LHTTP_MULTI_KEY "moonstep.http.multi"

#endif
