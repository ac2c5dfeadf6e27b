#include "http/listen_address.h"

namespace wiretag::http {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

Result<tcp::endpoint> parse_listen_address(const std::string& s) {
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return Error{"INVALID_LISTEN", "expected HOST:PORT"};
  std::string host = s.substr(0, colon), port = s.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) > 65535)
    return Error{"INVALID_LISTEN", "bad port in " + s};
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) return Error{"INVALID_LISTEN", "bad address in " + s + ": " + ec.message()};
  return tcp::endpoint(addr, static_cast<unsigned short>(std::stoi(port)));
}

std::string format_endpoint(const tcp::endpoint& e) {
  std::string host = e.address().is_v6() ? "[" + e.address().to_string() + "]"
                                         : e.address().to_string();
  return host + ":" + std::to_string(e.port());
}

}  // namespace wiretag::http
