#include "common/time.hpp"

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace k9 {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

bool valid_ymd(int y, int m, int d) {
    if (y < 1 || m < 1 || m > 12 || d < 1) return false;
    using namespace std::chrono;
    return year_month_day{year{y}, month{static_cast<unsigned>(m)}, day{static_cast<unsigned>(d)}}
        .ok();
}

}  // namespace

Micros system_now() {
    using namespace std::chrono;
    return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

Clock system_clock() {
    return [] { return system_now(); };
}

std::string format_iso8601(Micros t) {
    using namespace std::chrono;
    const sys_time<microseconds> tp{microseconds{t}};
    const auto day_point = floor<days>(tp);
    const year_month_day ymd{day_point};
    const hh_mm_ss hms{tp - day_point};
    char buf[40];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%06lldZ", int(ymd.year()),
                  unsigned(ymd.month()), unsigned(ymd.day()), int(hms.hours().count()),
                  int(hms.minutes().count()), int(hms.seconds().count()),
                  static_cast<long long>(hms.subseconds().count()));
    return buf;
}

std::optional<Micros> parse_iso8601(std::string_view s) {
    int y, mo, d, h, mi, sec;
    if (!digits(s, 0, 4, y) || s.size() < 19 || s[4] != '-' || !digits(s, 5, 2, mo) ||
        s[7] != '-' || !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != ' ') ||
        !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
        !digits(s, 17, 2, sec)) {
        return std::nullopt;
    }
    if (!valid_ymd(y, mo, d) || h > 23 || mi > 59 || sec > 59) return std::nullopt;
    std::size_t pos = 19;
    Micros frac = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (n < 6) frac = frac * 10 + (s[pos] - '0');
            ++n;
            ++pos;
        }
        if (n == 0) return std::nullopt;
        for (int i = n; i < 6; ++i) frac *= 10;
    }
    Micros offset_s = 0;
    if (pos < s.size() && s[pos] == 'Z') {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int oh, om;
        if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_s = (Micros{oh} * 3600 + Micros{om} * 60) * (s[pos] == '+' ? 1 : -1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    using namespace std::chrono;
    const sys_days day_point =
        year_month_day{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    const Micros secs = duration_cast<seconds>(day_point.time_since_epoch()).count() +
                        Micros{h} * 3600 + Micros{mi} * 60 + sec - offset_s;
    return secs * 1'000'000 + frac;
}

bool is_calendar_date(std::string_view s) {
    int y, m, d;
    return s.size() == 10 && digits(s, 0, 4, y) && s[4] == '-' && digits(s, 5, 2, m) &&
           s[7] == '-' && digits(s, 8, 2, d) && valid_ymd(y, m, d);
}

double monotonic_ms() {
    using namespace std::chrono;
    return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

Instant Instant::now() {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return Instant{static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6,
                   system_now()};
}

double Instant::elapsed_ms() const {
    const Instant n = now();
    return std::max(n.boot_ms - boot_ms, static_cast<double>(n.wall - wall) / 1000.0);
}

}  // namespace k9
