/*
 * decode_simdjson.cpp - fanzha's decoder against simdjson on the same
 * events: would simdjson (Debian's libsimdjson-dev) decode them faster?
 *
 *   fz_decode_simdjson [--rounds N] [--dom-kernel NAME] EVENTS.ndjson
 *
 * Per round and per line, each in turn (thread CPU time, median of the
 * rounds, like fz_decode_bench):
 *   fanzha      fz_event_decode at the default SIMD level;
 *   dom         simdjson's DOM parser, which validates the whole document
 *               (UTF-8 and JSON grammar), then the same fields picked from
 *               the root object: id, type, from, to, text, currency and
 *               category as strings, ts and duration_s as integers, amount
 *               as a number or a string, and the per-type required fields;
 *   ondemand    simdjson On-Demand over the same fields, which checks only
 *               what it visits (a malformed value of an unknown key passes),
 *               so it is not the strict contract.
 * simdjson reads SIMDJSON_PADDING bytes past the end of its input, which a
 * Kafka message does not promise: each event is copied into a padded buffer
 * first, as a shim in fanzha would have to, and the copy is timed.
 *
 * The DOM parser picks its kernel at run time (icelake: AVX-512, haswell:
 * AVX2, westmere: SSE4.2; --dom-kernel forces one); On-Demand is compiled
 * into this file, for AVX2 (CMakeLists.txt builds it with -mavx2 and
 * friends).
 *
 * Neither simdjson variant keeps fanzha's contract in full (docs/benchmarks
 * /decode.md lists what is missing); the point is the price of parsing.
 * Built only where simdjson is installed (CMake finds it).
 */
#include <simdjson.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

extern "C" {
#include "event.h"
#include "simd.h"
}

#define STR2(x) #x
#define STR(x) STR2(x)

static double now() {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

struct fields {
    std::string_view id, type, from, to, text, currency, category;
    int64_t ts = -1, duration = -1;
    bool has_amount = false;
};

/* The per-type requirements of fz_event_decode, on the picked fields. */
static bool complete(const fields &f) {
    if (f.id.empty() || f.ts < 0 || f.type.empty()) return false;
    if (f.type == "sms") return f.text.data() != nullptr;
    if (f.type == "call") return f.from.data() && f.to.data();
    if (f.type == "transfer") return f.from.data() && f.to.data() && f.has_amount;
    if (f.type == "report") return f.from.data() && f.has_amount;
    return false;
}

/* 0: accepted, 1: rejected */
static int decode_dom(simdjson::dom::parser &parser, const char *pad, size_t n) {
    simdjson::dom::element doc;
    if (parser.parse(pad, n, false).get(doc)) return 1;
    simdjson::dom::object obj;
    if (doc.get_object().get(obj)) return 1;
    fields f;
    for (auto kv : obj) {
        std::string_view k = kv.key;
        simdjson::dom::element v = kv.value;
        std::string_view *s = nullptr;
        if (k == "id")
            s = &f.id;
        else if (k == "type")
            s = &f.type;
        else if (k == "from")
            s = &f.from;
        else if (k == "to")
            s = &f.to;
        else if (k == "text")
            s = &f.text;
        else if (k == "currency")
            s = &f.currency;
        else if (k == "category")
            s = &f.category;
        if (s) {
            if (v.is_null()) continue;
            if (v.get_string().get(*s)) return 1;
        } else if (k == "ts") {
            if (v.get_int64().get(f.ts)) return 1;
        } else if (k == "duration_s") {
            if (v.get_int64().get(f.duration)) return 1;
        } else if (k == "amount") {
            f.has_amount = v.is_number() || v.is_string();
        }
    }
    return complete(f) ? 0 : 1;
}

static int decode_ondemand(simdjson::ondemand::parser &parser, const char *pad, size_t n) {
    simdjson::ondemand::document doc;
    if (parser.iterate(pad, n, n + simdjson::SIMDJSON_PADDING).get(doc)) return 1;
    simdjson::ondemand::object obj;
    if (doc.get_object().get(obj)) return 1;
    fields f;
    for (auto field : obj) {
        std::string_view k;
        if (field.unescaped_key().get(k)) return 1;
        simdjson::ondemand::value v = field.value();
        std::string_view *s = nullptr;
        if (k == "id")
            s = &f.id;
        else if (k == "type")
            s = &f.type;
        else if (k == "from")
            s = &f.from;
        else if (k == "to")
            s = &f.to;
        else if (k == "text")
            s = &f.text;
        else if (k == "currency")
            s = &f.currency;
        else if (k == "category")
            s = &f.category;
        if (s) {
            if (v.is_null()) continue;
            if (v.get_string().get(*s)) return 1;
        } else if (k == "ts") {
            if (v.get_int64().get(f.ts)) return 1;
        } else if (k == "duration_s") {
            if (v.get_int64().get(f.duration)) return 1;
        } else if (k == "amount") {
            f.has_amount = !v.raw_json_token().empty();
        }
    }
    return complete(f) ? 0 : 1;
}

int main(int argc, char **argv) {
    const char *path = nullptr;
    const char *kernel = nullptr;
    int rounds = 7;
    bool ok = true;
    for (int i = 1; i < argc && ok; i++) {
        if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--dom-kernel") && i + 1 < argc)
            kernel = argv[++i];
        else if (!path && argv[i][0] != '-')
            path = argv[i];
        else
            ok = false;
    }
    if (!ok || !path || rounds < 1) {
        std::fprintf(stderr,
                     "usage: fz_decode_simdjson [--rounds N] [--dom-kernel NAME] EVENTS.ndjson\n");
        return 2;
    }
    if (kernel) {
        const simdjson::implementation *impl = simdjson::get_available_implementations()[kernel];
        if (!impl || !impl->supported_by_runtime_system()) {
            std::fprintf(stderr, "fz_decode_simdjson: no simdjson kernel %s here\n", kernel);
            return 2;
        }
        simdjson::get_active_implementation() = impl;
    }
    FILE *fp = std::fopen(path, "r");
    if (!fp) {
        std::perror(path);
        return 1;
    }
    std::vector<std::string> ev;
    char *line = nullptr;
    size_t cap = 0, bytes = 0, longest = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, fp)) >= 0) {
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) got--;
        if (got == 0) continue;
        ev.emplace_back(line, (size_t)got);
        bytes += (size_t)got;
        longest = std::max(longest, (size_t)got);
    }
    std::free(line);
    std::fclose(fp);
    if (ev.empty()) return 1;

    char err[256];
    fz_decoder *dec = fz_decoder_new(65536, 65536, 1024, err, sizeof(err));
    if (!dec) return 1;
    simdjson::dom::parser dom;
    simdjson::ondemand::parser od;
    if (dom.allocate(longest + 64) || od.allocate(longest + 64)) return 1;
    std::vector<char> pad(longest + 1 + simdjson::SIMDJSON_PADDING);

    static const char *const what[3] = {"fanzha", "dom", "ondemand"};
    std::vector<double> secs[3];
    size_t rejected[3] = {0, 0, 0};
    for (int r = -1; r < rounds; r++) {
        for (int w = 0; w < 3; w++) {
            size_t bad = 0;
            double t0 = now();
            for (const std::string &e : ev) {
                if (w == 0) {
                    fz_event out;
                    char detail[192];
                    fz_decoder_reset_arena(dec);
                    bad += fz_event_decode(dec, e.data(), e.size(), &out, detail, sizeof(detail)) !=
                           FZ_REASON_NONE;
                    continue;
                }
                std::memcpy(pad.data(), e.data(), e.size());
                pad[e.size()] = '\0';
                bad += w == 1 ? decode_dom(dom, pad.data(), e.size())
                              : decode_ondemand(od, pad.data(), e.size());
            }
            double t = now() - t0;
            if (r >= 0) secs[w].push_back(t);
            rejected[w] = bad;
        }
    }
    std::printf("%zu events, %.0f bytes each on average; simdjson " STR(
                    SIMDJSON_VERSION) " DOM on %s, On-Demand on %s; "
                                      "fanzha SIMD level %s; median of %d round(s)\n",
                ev.size(), (double)bytes / (double)ev.size(),
                simdjson::get_active_implementation()->name().c_str(),
                STR(SIMDJSON_BUILTIN_IMPLEMENTATION), fz_simd_level_name(fz_simd_level_get()),
                rounds);
    for (int w = 0; w < 3; w++) {
        std::sort(secs[w].begin(), secs[w].end());
        double med = secs[w][(size_t)rounds / 2];
        std::printf("%-9s %.3f us/event  %.0f events/s  (best %.3f us/event); %zu rejected\n",
                    what[w], 1e6 * med / (double)ev.size(), (double)ev.size() / med,
                    1e6 * secs[w][0] / (double)ev.size(), rejected[w]);
    }
    fz_decoder_destroy(dec);
    return 0;
}
