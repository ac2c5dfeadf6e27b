// Parsing of --listen HOST:PORT flags, shared by the server and the agent.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

#include "wiretag/result.h"

namespace wiretag::http {

// "127.0.0.1:4002", "[::1]:4002", "0.0.0.0:0" (port 0: the OS chooses); INVALID_LISTEN.
Result<boost::asio::ip::tcp::endpoint> parse_listen_address(const std::string& text);

// "127.0.0.1:4002" / "[::1]:4002" for logs and the "listening on" line.
std::string format_endpoint(const boost::asio::ip::tcp::endpoint& endpoint);

}  // namespace wiretag::http
