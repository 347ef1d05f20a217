/* coloop.h - one include for programs that use coloop.
 *
 * The runtime layer: tasks (runtime/task.h) on a per-thread loop
 * (runtime/loop.h), errors as negative codes (runtime/error.h), stacks
 * (runtime/stack.h).  The net/ and http/ layers add their headers here as
 * they land.
 */
#ifndef COLOOP_H
#define COLOOP_H

#include "runtime/error.h"
#include "runtime/loop.h"
#include "runtime/stack.h"
#include "runtime/task.h"
#include "runtime/channel.h"
#include "runtime/sync.h"
#include "runtime/pool.h"
#include "runtime/group.h"
#include "net/neterr.h"
#include "net/socket.h"
#include "net/dns.h"
#include "net/dial.h"
#include "net/tls.h"
#include "net/stream.h"
#include "http/client.h"
#include "http/httperr.h"
#include "http/url.h"
#include "http/parse.h"
#include "http/server.h"
#include "http/httpbin.h"

#endif
