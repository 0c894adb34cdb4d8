package fanzha.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.internals.AppInfoParser;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The Kafka Streams peer of fanzha (driven by bench/peer_kstreams.py, whose
 * header says what it does and does not do).
 *
 * <pre>
 * java -jar kstreams-peer.jar run --brokers B --app-id A --input T --output T2 --count N
 *          --patterns FILE [--threads cores] [--guarantee at_least_once] [--literals set]
 *          [--timeout-s 900]
 * java -jar kstreams-peer.jar measure-literals --patterns FILE --events NDJSON [--rounds 3]
 *          [--seconds 10]
 * </pre>
 *
 * run: source(input) -> mapValues(parse JSON, match) -> filter(hit) -> to(output).
 * It counts the records it has processed and, at N, closes the application
 * (which flushes the producer and commits) and prints one line
 * "RESULT processed=N seconds=S alerts=A close_seconds=C", S being the time
 * from the first record processed to the N-th.
 */
public final class KStreamsPeer {
    private static final ObjectMapper JSON = new ObjectMapper();

    public static void main(String[] argv) throws Exception {
        if (argv.length == 0) usage("missing command");
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i < argv.length; i++) {
            if (!argv[i].startsWith("--") || i + 1 >= argv.length) usage("bad argument " + argv[i]);
            a.put(argv[i].substring(2), argv[++i]);
        }
        switch (argv[0]) {
            case "run" -> System.exit(run(a));
            case "measure-literals" -> System.exit(measureLiterals(a));
            default -> usage("unknown command " + argv[0]);
        }
    }

    private static void usage(String why) {
        System.err.println("kstreams-peer: " + why + "\nusage: run --brokers B --app-id A --input T"
                + " --output T2 --count N --patterns FILE [--threads N] [--guarantee G]"
                + " [--literals set|alternation] [--timeout-s S]\n"
                + "       measure-literals --patterns FILE --events NDJSON [--rounds R] [--seconds S]");
        System.exit(2);
    }

    private static String need(Map<String, String> a, String k) {
        String v = a.get(k);
        if (v == null) usage("--" + k + " is required");
        return v;
    }

    private static Rules.LiteralMode mode(Map<String, String> a) {
        return Rules.LiteralMode.valueOf(a.getOrDefault("literals", "set").toUpperCase(Locale.ROOT));
    }

    private static void describe(Rules r) {
        System.err.printf("kstreams-peer: Kafka Streams %s, %d regex patterns, %d refused by"
                + " java.util.regex, %d literals (%s)%n", AppInfoParser.getVersion(), r.patterns,
                r.refused.size(), r.literals.size(), r.mode.name().toLowerCase(Locale.ROOT));
        for (String why : r.refused) System.err.println("kstreams-peer: refused: " + why);
        System.out.printf("PATTERNS compiled=%d refused=%d literals=%d literal_mode=%s%n",
                r.patterns, r.refused.size(), r.literals.size(),
                r.mode.name().toLowerCase(Locale.ROOT));
    }

    static int run(Map<String, String> a) throws Exception {
        Rules rules = Rules.load(new File(need(a, "patterns")), mode(a));
        describe(rules);
        long count = Long.parseLong(need(a, "count"));
        String input = need(a, "input"), output = need(a, "output");
        int threads = Integer.parseInt(a.getOrDefault("threads",
                String.valueOf(Runtime.getRuntime().availableProcessors())));
        Path stateDir = Files.createTempDirectory("kstreams-peer-");

        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, need(a, "app-id"));
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, need(a, "brokers"));
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG,
                a.getOrDefault("guarantee", StreamsConfig.AT_LEAST_ONCE));
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir.toString());
        p.put(StreamsConfig.consumerPrefix("auto.offset.reset"), "earliest");
        // no global tables here; set only to silence 4.4's start-up advice about it
        p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true);

        AtomicLong processed = new AtomicLong(), alerts = new AtomicLong();
        AtomicLong firstNs = new AtomicLong(), doneNs = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Throwable> failure = new AtomicReference<>();

        StreamsBuilder b = new StreamsBuilder(new TopologyConfig(new StreamsConfig(p)));
        b.stream(input, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
                .mapValues(v -> {
                    long n = processed.incrementAndGet();
                    if (n == 1) firstNs.compareAndSet(0, System.nanoTime());
                    String hit = screen(rules, v);
                    if (hit != null) alerts.incrementAndGet();
                    if (n == count) {
                        doneNs.set(System.nanoTime());
                        done.countDown();
                    }
                    return hit;
                })
                .filter((k, v) -> v != null)
                .to(output, Produced.with(Serdes.ByteArray(), Serdes.String()));
        Topology topo = b.build(p);

        KafkaStreams ks = new KafkaStreams(topo, p);
        ks.setUncaughtExceptionHandler(e -> {
            failure.compareAndSet(null, e);
            done.countDown();
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        ks.setStateListener((now, before) -> {
            if (now == KafkaStreams.State.ERROR) {
                failure.compareAndSet(null, new IllegalStateException("Kafka Streams went to ERROR"));
                done.countDown();
            }
        });
        ks.start();
        long timeout = Long.parseLong(a.getOrDefault("timeout-s", "900"));
        boolean finished = done.await(timeout, TimeUnit.SECONDS);
        long t0 = System.nanoTime();
        ks.close(java.time.Duration.ofSeconds(120));
        double closeS = (System.nanoTime() - t0) / 1e9;
        ks.cleanUp();
        deleteTree(stateDir);
        if (failure.get() != null) {
            System.err.println("kstreams-peer: failed: " + failure.get());
            return 1;
        }
        if (!finished) {
            System.err.printf("kstreams-peer: only %d of %d events in %d s%n", processed.get(),
                    count, timeout);
            return 1;
        }
        double secs = (doneNs.get() - firstNs.get()) / 1e9;
        System.out.printf(Locale.ROOT, "RESULT processed=%d seconds=%.3f alerts=%d close_seconds=%.3f"
                + " threads=%d%n", count, secs, alerts.get(), closeS, threads);
        return 0;
    }

    /** The alert for one event (a small JSON record), or null: no match or not JSON. */
    static String screen(Rules rules, byte[] value) {
        if (value == null) return null;
        JsonNode ev;
        try {
            ev = JSON.readTree(value);
        } catch (IOException e) {
            return null;
        }
        if (ev == null || !ev.isObject()) return null;
        String rule = rules.match(ev);
        if (rule == null) return null;
        ObjectNode o = JSON.createObjectNode();
        o.set("event_id", ev.get("id"));
        o.put("rule", rule);
        o.put("alert", true);
        return o.toString();
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> x.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory: best effort
        }
    }

    /**
     * The literal lists both ways on the SMS texts of an NDJSON file: one
     * alternation Pattern of all literals, and the set lookup of the
     * text's name-like runs. Prints texts/s of each (best of --rounds after
     * a warm-up round, each round over all texts or --seconds, whichever is
     * shorter), their hit counts, and the regex patterns' cost for scale.
     */
    static int measureLiterals(Map<String, String> a) throws Exception {
        Rules r = Rules.load(new File(need(a, "patterns")), Rules.LiteralMode.SET);
        describe(r);
        List<String> texts = new ArrayList<>();
        try (BufferedReader in = Files.newBufferedReader(Path.of(need(a, "events")),
                StandardCharsets.UTF_8)) {
            for (String line; (line = in.readLine()) != null; ) {
                JsonNode t = JSON.readTree(line).get("text");
                if (t != null && t.isTextual()) texts.add(t.asText());
            }
        }
        int rounds = Integer.parseInt(a.getOrDefault("rounds", "3"));
        long c0 = System.nanoTime();
        Pattern alt = Rules.alternation(r.literals);
        double compileS = (System.nanoTime() - c0) / 1e9;
        System.out.printf(Locale.ROOT, "MEASURE texts=%d literals=%d alternation_compile_s=%.3f%n",
                texts.size(), r.literals.size(), compileS);
        // agreement on every text would take the alternation minutes: on the first 2,000
        int differ = 0, checked = Math.min(texts.size(), 2000);
        for (String t : texts.subList(0, checked)) if (!Rules.sameAnswer(r, alt, t)) differ++;
        double budget = Double.parseDouble(a.getOrDefault("seconds", "10"));
        String[] names = {"set", "alternation", "regex"};
        for (String name : names) {
            double bestRate = 0;
            long hits = 0;
            int done = 0;
            for (int round = 0; round <= rounds; round++) {   // round 0: warm-up
                long h = 0, s0 = System.nanoTime();
                int i = 0;
                for (; i < texts.size(); i++) {
                    String t = texts.get(i);
                    boolean hit = switch (name) {
                        case "set" -> r.setHit(t);
                        case "alternation" -> alt.matcher(t.toLowerCase(Locale.ROOT)).find();
                        default -> anyRegex(r, t);
                    };
                    if (hit) h++;
                    if ((i & 15) == 15 && (System.nanoTime() - s0) / 1e9 > budget) {
                        i++;
                        break;
                    }
                }
                double s = (System.nanoTime() - s0) / 1e9;
                if (round > 0 && i / s > bestRate) bestRate = i / s;
                hits = h;
                done = i;
            }
            System.out.printf(Locale.ROOT, "MEASURE %s: %.0f texts/s, %d hits in %d texts, best of"
                    + " %d rounds (at most %.0f s each)%n", name, bestRate, hits, done, rounds, budget);
        }
        System.out.printf("MEASURE set and alternation disagree on %d of %d texts%n", differ, checked);
        return 0;
    }

    private static boolean anyRegex(Rules r, String text) {
        for (Rules.Rx rx : r.byField.getOrDefault("text", List.of())) {
            if (rx.pattern().matcher(text).find()) return true;
        }
        return false;
    }
}
