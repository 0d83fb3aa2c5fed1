package io.rewrap.kafka;

import io.rewrap.Constants;
import io.rewrap.Opened;
import io.rewrap.RewrapException;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.MessageFormatter;
import org.apache.kafka.common.header.Header;

/**
 * Formatter for {@code kafka-console-consumer} that opens each record, the way
 * {@link RewrapDeserializer} does, and prints it like the console consumer's default formatter
 * (value, then a line separator). It takes the {@code rewrap.*} properties of
 * {@link RewrapDeserializer}, given with {@code --property} or in a {@code --formatter-config}
 * file; read through the rewrap proxy with the client id (or principal) the grant names:
 * <pre>
 * kafka-console-consumer.sh --bootstrap-server PROXY:9092 --topic orders --from-beginning \
 *   --consumer-property client.id=alice \
 *   --formatter io.rewrap.kafka.RewrapMessageFormatter \
 *   --property rewrap.consumer.key.file=/etc/rewrap/alice.sec \
 *   --property rewrap.admin.key.file=/etc/rewrap/admin.pub \
 *   --property rewrap.producer.grant.dir=/var/lib/rewrap/grants \
 *   --property print.key=true
 * </pre>
 * Printing, as the default formatter names it: {@code print.timestamp}, {@code print.topic}
 * (this one's addition), {@code print.partition}, {@code print.offset}, {@code print.headers}
 * (the record's own headers; the {@code rewrap.*} ones are left out but for
 * {@value Constants#UNAUTHENTICATED_HEADER}, which marks plaintext let through by
 * {@code rewrap.allow.plaintext}: that setting is refused without {@code print.headers=true}),
 * {@code print.key},
 * {@code print.value} (default true), {@code key.separator} (tab), {@code line.separator}
 * (newline), {@code null.literal} ({@code null}). Keys and values are printed as their bytes;
 * headers, which are not bound to the sealed value, with control bytes and backslashes escaped
 * ({@code \xNN}, {@code \\}) so that one cannot fake a line.
 *
 * <p>A record this consumer cannot open (not granted, revoked, unsigned, tampered...) prints
 * nothing on standard output, so what is there is only what opened; it prints one line on
 * standard error, {@code rewrap: cannot open TOPIC-PARTITION@OFFSET: KIND (code N): message},
 * naming the {@link RewrapException} kind, and the consumer goes on. With
 * {@value #ON_ERROR}{@code =fail} the exception is thrown instead, which stops the console
 * consumer unless it runs with {@code --skip-message-on-error}. On close a count of the
 * records that did not open goes to standard error. A tombstone (null value) has nothing sealed,
 * so its key is anyone's: it prints nothing on standard output either, and
 * {@code rewrap: TOPIC-PARTITION@OFFSET: tombstone (no value)} on standard error. A record
 * opened unsigned (policy {@code optional} or {@code off}) is printed and named on standard
 * error, {@code rewrap: TOPIC-PARTITION@OFFSET: unsigned: ...}.
 */
public class RewrapMessageFormatter implements MessageFormatter {
    /** {@code skip} (default): a named line on standard error; {@code fail}: throw. */
    public static final String ON_ERROR = "rewrap.on.error";

    private static final byte[] NO_HEADERS = "NO_HEADERS".getBytes(StandardCharsets.UTF_8);

    private final RewrapDeserializer opener;
    private final PrintStream errors;
    private boolean failOnError;
    private boolean printTimestamp;
    private boolean printTopic;
    private boolean printPartition;
    private boolean printOffset;
    private boolean printHeaders;
    private boolean printKey;
    private boolean printValue = true;
    private byte[] keySeparator = utf8("\t");
    private byte[] lineSeparator = utf8("\n");
    private byte[] headersSeparator = utf8(",");
    private byte[] nullLiteral = utf8("null");
    private long unopened;

    public RewrapMessageFormatter() {
        this(new RewrapDeserializer(), System.err);
    }

    /**
     * Programmatic use: opens with {@code opener} ({@link #configure} passes it the same
     * properties; one made around a {@code Decryptor} keeps that) and reports the records it
     * cannot open to {@code errors}.
     */
    public RewrapMessageFormatter(RewrapDeserializer opener, PrintStream errors) {
        this.opener = opener;
        this.errors = errors;
    }

    @Override
    public void configure(Map<String, ?> configs) {
        String onError = RewrapConfig.get(configs, ON_ERROR);
        if (onError != null) {
            switch (onError.strip()) {
                case "skip" -> failOnError = false;
                case "fail" -> failOnError = true;
                default -> throw new RewrapException.InvalidArgument(ON_ERROR + ": expected skip or fail, got " + onError);
            }
        }
        printTimestamp = flag(configs, "print.timestamp", printTimestamp);
        printTopic = flag(configs, "print.topic", printTopic);
        printPartition = flag(configs, "print.partition", printPartition);
        printOffset = flag(configs, "print.offset", printOffset);
        printHeaders = flag(configs, "print.headers", printHeaders);
        printKey = flag(configs, "print.key", printKey);
        printValue = flag(configs, "print.value", printValue);
        keySeparator = bytes(configs, "key.separator", keySeparator);
        lineSeparator = bytes(configs, "line.separator", lineSeparator);
        headersSeparator = bytes(configs, "headers.separator", headersSeparator);
        nullLiteral = bytes(configs, "null.literal", nullLiteral);
        if (RewrapConfig.allowPlaintext(configs) && !printHeaders) {
            // Anyone who can write to the topic can then add plaintext: on standard output it
            // would read like an opened record unless its mark is printed.
            throw new RewrapException.InvalidArgument(RewrapConfig.ALLOW_PLAINTEXT
                    + " needs print.headers=true, so that plaintext let through shows its "
                    + Constants.UNAUTHENTICATED_HEADER + " mark");
        }
        opener.configure(configs, false);
    }

    @Override
    public void writeTo(ConsumerRecord<byte[], byte[]> record, PrintStream output) {
        byte[] value;
        try {
            Opened opened = opener.open(record.topic(), record.headers(), record.key(), record.value());
            value = opened.value();
            if (opened.kind() == Opened.Kind.DECRYPTED && opened.vouch() == Opened.Vouch.UNSIGNED) {
                // Policy optional or off: anyone holding the delegating public key could have
                // sealed it.
                errors.println("rewrap: " + record.topic() + "-" + record.partition() + "@" + record.offset()
                        + ": unsigned: printed under policy optional or off, not authenticated");
            }
        } catch (RewrapException e) {
            unopened++;
            if (failOnError) {
                throw e;
            }
            errors.println("rewrap: cannot open " + record.topic() + "-" + record.partition() + "@" + record.offset()
                    + ": " + e.getClass().getSimpleName() + " (code " + e.code() + "): " + e.getMessage());
            return;
        }
        if (record.value() == null) {
            // A tombstone carries nothing sealed: its key (and headers) are anyone's, so none of
            // it goes where only opened records go.
            errors.println("rewrap: " + record.topic() + "-" + record.partition() + "@" + record.offset()
                    + ": tombstone (no value)");
            return;
        }
        boolean first = true;
        if (printTimestamp) {
            first = column(output, first, utf8(record.timestampType() + ":" + record.timestamp()));
        }
        if (printTopic) {
            first = column(output, first, utf8(record.topic()));
        }
        if (printPartition) {
            first = column(output, first, utf8("Partition:" + record.partition()));
        }
        if (printOffset) {
            first = column(output, first, utf8("Offset:" + record.offset()));
        }
        if (printHeaders) {
            first = column(output, first, headers(record));
        }
        if (printKey) {
            first = column(output, first, record.key() == null ? nullLiteral : record.key());
        }
        if (printValue) {
            column(output, first, value == null ? nullLiteral : value);
        }
        output.write(lineSeparator, 0, lineSeparator.length);
    }

    /** Records that did not open since this formatter was made. */
    public long unopened() {
        return unopened;
    }

    @Override
    public void close() {
        opener.close();
        if (unopened > 0) {
            errors.println("rewrap: " + unopened + " record(s) could not be opened");
        }
    }

    private boolean column(PrintStream output, boolean first, byte[] field) {
        if (!first) {
            output.write(keySeparator, 0, keySeparator.length);
        }
        output.write(field, 0, field.length);
        return false;
    }

    private byte[] headers(ConsumerRecord<byte[], byte[]> record) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Header h : record.headers()) {
            if (h.key().startsWith(Constants.HEADER_PREFIX) && !h.key().equals(Constants.UNAUTHENTICATED_HEADER)) {
                continue;
            }
            if (out.size() > 0) {
                out.writeBytes(headersSeparator);
            }
            escape(out, utf8(h.key()));
            out.writeBytes(utf8(":"));
            if (h.value() == null) {
                out.writeBytes(nullLiteral);
            } else {
                escape(out, h.value());
            }
        }
        return out.size() == 0 ? NO_HEADERS : out.toByteArray();
    }

    /**
     * Header names and values are not bound to the sealed value: whoever can write to the
     * topic can replay an opened record with headers of their own. Their control bytes and
     * backslashes are printed as {@code \xNN} and {@code \\}, so a header cannot end the
     * line and fake one of its own, nor reach the terminal as an escape sequence.
     */
    private static void escape(ByteArrayOutputStream out, byte[] bytes) {
        for (byte b : bytes) {
            if ((b >= 0 && b < 0x20) || b == 0x7f || b == '\\') {
                out.writeBytes(utf8(b == '\\' ? "\\\\" : String.format("\\x%02x", b)));
            } else {
                out.write(b);
            }
        }
    }

    private static boolean flag(Map<String, ?> configs, String key, boolean defaultValue) {
        String v = RewrapConfig.get(configs, key);
        return v == null ? defaultValue : v.strip().equalsIgnoreCase("true");
    }

    private static byte[] bytes(Map<String, ?> configs, String key, byte[] defaultValue) {
        String v = RewrapConfig.get(configs, key);
        return v == null ? defaultValue : utf8(v);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
