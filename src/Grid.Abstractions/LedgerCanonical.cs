using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Grid;

/// <summary>
/// The canonical bytes of a ledger entry and its chained hash. This is the one definition the ledger grain, the
/// stores and <c>grid ledger verify</c> share, so a verifier recomputes every hash byte for byte from the public
/// JSON of the entries.
/// </summary>
/// <remarks>
/// Layout (all integers big-endian, strings as a 4-byte byte length followed by their UTF-8 bytes):
/// <code>
/// "grid.ledger.v1" 0x00
/// int64 seq
/// int64 at            microseconds since 1970-01-01T00:00:00Z (entries are stamped to whole microseconds,
///                     the precision PostgreSQL's timestamptz keeps)
/// string kind, string eventId, string actor, string subject
/// byte 0 | byte 1 + int64 amount           (amount absent | present)
/// int32 count, then per posting: int64 accountId, int64 amount   (in the entry's order)
/// byte 0 | byte 1 + string details         (details absent | present, the exact stored text)
/// </code>
/// hash = lowercase hex SHA-256( prevHash as its 32 raw bytes ‖ canonical bytes ); the first entry's prevHash is
/// 64 zeros (<see cref="GenesisHash"/>). Length prefixes make the encoding unambiguous without escaping.
/// </remarks>
public static class LedgerCanonical
{
    /// <summary>The prevHash of sequence number 1.</summary>
    public static readonly string GenesisHash = new('0', 64);

    private static readonly byte[] Magic = "grid.ledger.v1\0"u8.ToArray();
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    [ThreadStatic]
    private static IncrementalHash? _hasher;

    /// <summary>Truncates a time to whole microseconds, the precision the canonical bytes and PostgreSQL keep.</summary>
    public static DateTimeOffset Stamp(DateTimeOffset at) =>
        new(at.UtcTicks - (at.UtcTicks % 10), TimeSpan.Zero);

    /// <summary>Microseconds since the Unix epoch.</summary>
    public static long UnixMicroseconds(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    /// <summary>The canonical bytes of an entry (everything but its hashes).</summary>
    public static byte[] Bytes(long seq, DateTimeOffset at, string kind, string eventId, string actor, string subject,
        long? amount, IReadOnlyList<Posting> postings, string? details)
    {
        var bytes = new byte[Length(kind, eventId, actor, subject, amount, postings, details)];
        Write(bytes, seq, at, kind, eventId, actor, subject, amount, postings, details);
        return bytes;
    }

    /// <summary>The hash of an entry: SHA-256 over the previous hash's raw bytes and the entry's canonical bytes.</summary>
    public static string Hash(string prevHash, long seq, DateTimeOffset at, string kind, string eventId, string actor,
        string subject, long? amount, IReadOnlyList<Posting> postings, string? details)
    {
        // One pooled buffer per entry (this runs once per appended entry, on the ledger's single writer): the
        // previous hash's raw bytes, then the canonical bytes written in place.
        var length = 32 + Length(kind, eventId, actor, subject, amount, postings, details);
        var input = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            if (prevHash.Length != 64 || Convert.FromHexString(prevHash, input.AsSpan(0, 32), out _, out _) != OperationStatus.Done)
            {
                throw new FormatException($"'{prevHash}' is not a 64-digit hex hash.");
            }

            Write(input.AsSpan(32, length - 32), seq, at, kind, eventId, actor, subject, amount, postings, details);
            // A hasher kept per thread: OpenSSL's one-shot digest sets up and frees a context on every call (measured
            // here ≈ 1.6–1.9 µs per entry against ≈ 1.3–1.5 µs reusing one); the digest is the same.
            var hasher = _hasher ??= IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            hasher.AppendData(input, 0, length);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            hasher.GetHashAndReset(hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(input);
        }
    }

    /// <summary>The hash <paramref name="entry"/> should have given its own fields and its <see cref="LedgerEntry.PrevHash"/>.</summary>
    public static string Hash(LedgerEntry entry) =>
        Hash(entry.PrevHash, entry.Seq, entry.At, entry.Kind, entry.EventId, entry.Actor, entry.Subject, entry.Amount, entry.Postings, entry.Details);

    /// <summary>Builds the entry that follows <paramref name="prevHash"/> at <paramref name="seq"/>.</summary>
    public static LedgerEntry Link(long seq, string prevHash, DateTimeOffset at, LedgerAppend append)
    {
        var stamped = Stamp(at);
        var postings = append.Postings.IsDefault ? [] : append.Postings;
        var hash = Hash(prevHash, seq, stamped, append.Kind, append.EventId, append.Actor, append.Subject, append.Amount, postings, append.Details);
        return new LedgerEntry(seq, stamped, append.Kind, append.EventId, append.Actor, append.Subject, append.Amount, postings, append.Details, prevHash, hash);
    }

    /// <summary>True when <paramref name="text"/> can be stored and hashed as is: valid UTF-16 and no NUL characters.</summary>
    public static bool IsStorable(string text)
    {
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            return false;
        }

        try
        {
            StrictUtf8.GetByteCount(text);
            return true;
        }
        catch (EncoderFallbackException)
        {
            return false;
        }
    }

    private static int Length(string kind, string eventId, string actor, string subject, long? amount,
        IReadOnlyList<Posting> postings, string? details) =>
        Magic.Length + 8 + 8
        + StringLength(kind) + StringLength(eventId) + StringLength(actor) + StringLength(subject)
        + 1 + (amount.HasValue ? 8 : 0)
        + 4 + (postings.Count * 16)
        + 1 + (details is null ? 0 : StringLength(details));

    private static int StringLength(string text) => 4 + StrictUtf8.GetByteCount(text);

    /// <summary>Writes the canonical bytes into <paramref name="target"/>, exactly <see cref="Length"/> long.</summary>
    private static void Write(Span<byte> target, long seq, DateTimeOffset at, string kind, string eventId, string actor,
        string subject, long? amount, IReadOnlyList<Posting> postings, string? details)
    {
        Magic.CopyTo(target);
        var at0 = Magic.Length;
        BinaryPrimitives.WriteInt64BigEndian(target[at0..], seq);
        BinaryPrimitives.WriteInt64BigEndian(target[(at0 + 8)..], UnixMicroseconds(at));
        var rest = target[(at0 + 16)..];
        rest = WriteString(rest, kind);
        rest = WriteString(rest, eventId);
        rest = WriteString(rest, actor);
        rest = WriteString(rest, subject);
        rest[0] = amount.HasValue ? (byte)1 : (byte)0;
        rest = rest[1..];
        if (amount is { } value)
        {
            BinaryPrimitives.WriteInt64BigEndian(rest, value);
            rest = rest[8..];
        }

        BinaryPrimitives.WriteInt32BigEndian(rest, postings.Count);
        rest = rest[4..];
        for (var i = 0; i < postings.Count; i++)
        {
            BinaryPrimitives.WriteInt64BigEndian(rest, postings[i].AccountId);
            BinaryPrimitives.WriteInt64BigEndian(rest[8..], postings[i].Amount);
            rest = rest[16..];
        }

        rest[0] = details is null ? (byte)0 : (byte)1;
        rest = rest[1..];
        if (details is not null)
        {
            rest = WriteString(rest, details);
        }

        if (!rest.IsEmpty)
        {
            throw new InvalidOperationException("Canonical ledger bytes: length mismatch.");
        }
    }

    private static Span<byte> WriteString(Span<byte> target, string text)
    {
        var written = StrictUtf8.GetBytes(text, target[4..]);
        BinaryPrimitives.WriteInt32BigEndian(target, written);
        return target[(4 + written)..];
    }
}
