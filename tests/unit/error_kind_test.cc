// Error kinds (include/wiretag/error_kind.h): what callers branch on instead of code text.
#include "wiretag/error_kind.h"

#include <gtest/gtest.h>

namespace wiretag {
namespace {

TEST(ErrorKinds, EachCodeHasTheKindItsHandlersActOn) {
  EXPECT_TRUE(is(Error{"CANCELLED", ""}, ErrorKind::Cancelled));
  EXPECT_TRUE(is(Error{"CONNECTION_CLOSED", ""}, ErrorKind::ConnectionClosed));
  EXPECT_TRUE(is(Error{"DEVICE_NOT_FOUND", ""}, ErrorKind::Gone));
  EXPECT_TRUE(is(Error{"NETNS_NOT_FOUND", ""}, ErrorKind::Gone));
  EXPECT_TRUE(is(Error{"CELL_NOT_FOUND", ""}, ErrorKind::CellUnavailable));
  EXPECT_TRUE(is(Error{"CELL_UNREACHABLE", ""}, ErrorKind::CellUnavailable));
  EXPECT_TRUE(is(Error{"SERVER_BUSY", ""}, ErrorKind::Busy));
  EXPECT_TRUE(is(Error{"SERVER_ERROR", ""}, ErrorKind::Upstream));
  EXPECT_TRUE(is(Error{"INVALID_RESPONSE", ""}, ErrorKind::Upstream));
  EXPECT_TRUE(is(Error{"INVALID_JSON", ""}, ErrorKind::InvalidJson));
  EXPECT_TRUE(is(Error{"INVALID_TRACE", ""}, ErrorKind::InvalidTrace));
  EXPECT_TRUE(is(Error{"DB_URL_INVALID", ""}, ErrorKind::Configuration));
  EXPECT_TRUE(is(Error{"DB_UNREACHABLE", ""}, ErrorKind::Configuration));
  for (const char* code : {"APP_NOT_FOUND", "SERVICE_NOT_FOUND", "POLICY_NOT_FOUND"})
    EXPECT_TRUE(is(Error{code, ""}, ErrorKind::NotFound)) << code;
  // A device that vanished is not "not found" in the sense of a missing name, and the other
  // way round: handlers that forget devices do not forget them for a missing app.
  EXPECT_FALSE(is(Error{"APP_NOT_FOUND", ""}, ErrorKind::Gone));
  EXPECT_FALSE(is(Error{"DEVICE_NOT_FOUND", ""}, ErrorKind::NotFound));
  for (const char* code : {"", "TIMEOUT", "MAP_FULL", "SERVER_UNREACHABLE", "cancelled",
                           "NOT_FOUND_X", "JSON_TOO_DEEP"})
    EXPECT_EQ(error_kind(code), ErrorKind::Other) << code;
}

}  // namespace
}  // namespace wiretag
