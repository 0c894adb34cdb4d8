package fanzha.peer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The rules' patterns as java.util.regex sees them, read from the JSON file
 * that bench/peer_kstreams.py writes:
 *
 * <pre>{"patterns": [{"rule": ID, "field": "text", "regex": R, "flags": ["caseless", ...]}],
 *  "literals": [...], "literal_rule": ID}</pre>
 *
 * A regex that Pattern.compile refuses is skipped and counted. Flags:
 * caseless -> CASE_INSENSITIVE (ASCII only, as Hyperscan without ucp),
 * dotall -> DOTALL, multiline -> MULTILINE. Literals (phishing domains) are
 * matched on the lower-cased text as whole names, the way fanzha's
 * list_match: word does: the characters next to a hit are not one of
 * [a-z0-9_-] ("x.evil.com" names evil.com, "notevil.com" does not).
 */
final class Rules {
    /** One compiled pattern and the rule it belongs to. */
    record Rx(String rule, Pattern pattern) {}

    /** How the literals are matched. */
    enum LiteralMode { SET, ALTERNATION }

    final Map<String, List<Rx>> byField = new LinkedHashMap<>();
    final List<String> refused = new ArrayList<>();
    final Set<String> literals = new HashSet<>();
    String literalRule = "list";
    int patterns;
    private int minLit = Integer.MAX_VALUE, maxLit;
    private boolean allDotted = true;
    private Pattern alternation;
    LiteralMode mode = LiteralMode.SET;

    static Rules load(File file, LiteralMode mode) throws IOException {
        Rules r = new Rules();
        r.mode = mode;
        JsonNode doc = new ObjectMapper().readTree(file);
        for (JsonNode p : doc.path("patterns")) {
            int fl = 0;
            for (JsonNode f : p.path("flags")) {
                switch (f.asText()) {
                    case "caseless" -> fl |= Pattern.CASE_INSENSITIVE;
                    case "dotall" -> fl |= Pattern.DOTALL;
                    case "multiline" -> fl |= Pattern.MULTILINE;
                    default -> { }
                }
            }
            String rule = p.path("rule").asText();
            String rx = p.path("regex").asText();
            Pattern compiled;
            try {
                compiled = Pattern.compile(rx, fl);
            } catch (PatternSyntaxException | StackOverflowError e) {
                r.refused.add(rule + ": " + firstLine(e.getMessage()));
                continue;
            }
            r.byField.computeIfAbsent(p.path("field").asText("text"), k -> new ArrayList<>())
                    .add(new Rx(rule, compiled));
            r.patterns++;
        }
        r.literalRule = doc.path("literal_rule").asText("list");
        for (JsonNode l : doc.path("literals")) {
            String w = l.asText().toLowerCase(Locale.ROOT);
            if (w.isEmpty()) continue;
            r.literals.add(w);
            r.minLit = Math.min(r.minLit, w.length());
            r.maxLit = Math.max(r.maxLit, w.length());
            r.allDotted &= w.indexOf('.') >= 0;
        }
        if (mode == LiteralMode.ALTERNATION) r.alternation = alternation(r.literals);
        return r;
    }

    private static String firstLine(String s) {
        if (s == null) return "stack overflow while compiling";
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** All literals as one Pattern: (?<![a-z0-9_-])(?:l1|l2|...)(?![a-z0-9_-]). */
    static Pattern alternation(Set<String> lits) {
        if (lits.isEmpty()) return null;
        StringBuilder sb = new StringBuilder(lits.size() * 16);
        sb.append("(?<![a-z0-9_-])(?:");
        boolean first = true;
        for (String l : lits) {
            if (!first) sb.append('|');
            first = false;
            for (int i = 0; i < l.length(); i++) {
                char c = l.charAt(i);
                if ("\\.[]{}()<>*+-=!?^$|".indexOf(c) >= 0) sb.append('\\');
                sb.append(c);
            }
        }
        sb.append(")(?![a-z0-9_-])");
        return Pattern.compile(sb.toString());
    }

    /** The first rule whose pattern matches the event, or null. */
    String match(JsonNode ev) {
        for (Map.Entry<String, List<Rx>> e : byField.entrySet()) {
            JsonNode v = ev.get(e.getKey());
            if (v == null || !v.isTextual()) continue;
            String s = v.asText();
            for (Rx rx : e.getValue()) {
                if (rx.pattern.matcher(s).find()) return rx.rule;
            }
        }
        if (!literals.isEmpty()) {
            JsonNode t = ev.get("text");
            if (t != null && t.isTextual() && literalHit(t.asText())) return literalRule;
        }
        return null;
    }

    boolean literalHit(String text) {
        return mode == LiteralMode.SET ? setHit(text) : alternationHit(text);
    }

    boolean alternationHit(String text) {
        return alternation != null && alternation.matcher(text.toLowerCase(Locale.ROOT)).find();
    }

    private static boolean nameChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
    }

    /**
     * Each run of [a-z0-9_.-] in the lower-cased text, and in it every
     * stretch that begins at the run's start or after a dot and ends at the
     * run's end or before a dot, looked up in the set: the same hits as the
     * alternation above when no literal begins or ends with a dot.
     */
    boolean setHit(String text) {
        String s = text.toLowerCase(Locale.ROOT);
        int n = s.length(), i = 0;
        int[] dots = new int[16];
        while (i < n) {
            if (!nameChar(s.charAt(i))) {
                i++;
                continue;
            }
            int start = i, nd = 0;
            while (i < n && nameChar(s.charAt(i))) {
                if (s.charAt(i) == '.') {
                    if (nd == dots.length) dots = java.util.Arrays.copyOf(dots, nd * 2);
                    dots[nd++] = i;
                }
                i++;
            }
            int end = i;
            if (end - start < minLit || (allDotted && nd == 0)) continue;
            // starts: the run's start and after each dot; ends: before each dot and the run's end
            for (int a = -1; a < nd; a++) {
                int from = a < 0 ? start : dots[a] + 1;
                for (int b = a + 1; b <= nd; b++) {
                    int to = b < nd ? dots[b] : end;
                    int len = to - from;
                    if (len < minLit) continue;
                    if (len > maxLit) break;
                    if (literals.contains(s.substring(from, to))) return true;
                }
            }
        }
        return false;
    }

    /** Diagnostics for --measure-literals: hits of both ways on one text. */
    static boolean sameAnswer(Rules r, Pattern alt, String text) {
        Matcher m = alt.matcher(text.toLowerCase(Locale.ROOT));
        return m.find() == r.setHit(text);
    }
}
