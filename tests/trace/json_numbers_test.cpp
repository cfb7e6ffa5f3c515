// JSON number text into exact integer ns (trace times) and integers (ids):
// never through a double, rounding half away from zero, and false rather
// than a wrapped value on overflow.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string_view>

#include "trace/json_numbers.h"

namespace smaragdine {
namespace {

using trace_internal::ParseInt64;
using trace_internal::ParseMicrosToNs;

int64_t Ns(std::string_view text) {
  int64_t v = 0;
  EXPECT_TRUE(ParseMicrosToNs(text, &v)) << text;
  return v;
}

int64_t Int(std::string_view text) {
  int64_t v = 0;
  EXPECT_TRUE(ParseInt64(text, &v)) << text;
  return v;
}

TEST(JsonNumbersTest, DecimalMicrosecondsBecomeExactNanoseconds) {
  EXPECT_EQ(Ns("1712169098533620.758"), 1712169098533620758);
  EXPECT_EQ(Ns("1712195495519689.0"), 1712195495519689000);
  EXPECT_EQ(Ns("39025.420999999995"), 39025421);  // rounds to the nearest ns
  EXPECT_EQ(Ns("0.0004"), 0);
  EXPECT_EQ(Ns("0.0005"), 1);
  EXPECT_EQ(Ns("-0.0005"), -1);  // half away from zero on both sides
  EXPECT_EQ(Ns("-1.5"), -1500);
  EXPECT_EQ(Ns("1.5e3"), 1500000);
  EXPECT_EQ(Ns("2E-3"), 2);
  EXPECT_EQ(Ns("17"), 17000);
  EXPECT_EQ(Ns(" 17 \n"), 17000);  // JSON blanks around the token
  int64_t v;
  EXPECT_FALSE(ParseMicrosToNs("", &v));
  EXPECT_FALSE(ParseMicrosToNs("abc", &v));
  EXPECT_FALSE(ParseMicrosToNs("1.2.3", &v));
  EXPECT_FALSE(ParseMicrosToNs("1e", &v));
  EXPECT_FALSE(ParseMicrosToNs(".", &v));
}

TEST(JsonNumbersTest, MicrosecondsAtTheInt64EdgeAreExactOrRefused) {
  // INT64_MAX ns = 9223372036854775.807 µs: the largest time there is.
  EXPECT_EQ(Ns("9223372036854775.807"), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(Ns("-9223372036854775.807"), -std::numeric_limits<int64_t>::max());
  int64_t v;
  EXPECT_FALSE(ParseMicrosToNs("9223372036854775.808", &v));
  EXPECT_FALSE(ParseMicrosToNs("99999999999999999999", &v));
  EXPECT_FALSE(ParseMicrosToNs("1e300", &v));
  EXPECT_EQ(Ns("1e-300"), 0);
  // The plain-shape fast path (up to 3 fraction digits) and the general
  // path (more, rounded) agree at the fast path's limit.
  EXPECT_EQ(Ns("1234567890123456.789"), 1234567890123456789);
  EXPECT_EQ(Ns("1234567890123456.7891"), 1234567890123456789);
  EXPECT_EQ(Ns("1234567890123456.7895"), 1234567890123456790);
}

TEST(JsonNumbersTest, IntegersFromNumbersAndStrings) {
  EXPECT_EQ(Int("12"), 12);
  EXPECT_EQ(Int("-3"), -3);
  EXPECT_EQ(Int("+4"), 4);
  EXPECT_EQ(Int("0x1f"), 31);
  EXPECT_EQ(Int("0X1F"), 31);
  EXPECT_EQ(Int("12.7"), 12);  // the integer part, as ids written as floats mean
  EXPECT_EQ(Int(" 5 "), 5);
  EXPECT_EQ(Int("9223372036854775807"), std::numeric_limits<int64_t>::max());
  int64_t v;
  EXPECT_FALSE(ParseInt64("", &v));
  EXPECT_FALSE(ParseInt64("0x", &v));
  EXPECT_FALSE(ParseInt64("12a", &v));
  EXPECT_FALSE(ParseInt64("9223372036854775808", &v));
  EXPECT_FALSE(ParseInt64("18446744073709551616", &v));
}

TEST(JsonNumbersTest, TrimsOnlyJsonBlanks) {
  using trace_internal::TrimJsonSpace;
  EXPECT_EQ(TrimJsonSpace(" \t\r\nx y\n"), "x y");
  EXPECT_EQ(TrimJsonSpace("\vx"), "\vx");  // not a JSON blank
  EXPECT_EQ(TrimJsonSpace("   "), "");
}

}  // namespace
}  // namespace smaragdine
