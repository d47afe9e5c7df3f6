using System.Buffers.Binary;
using NSec.Cryptography;

namespace Grid;

/// <summary>
/// Ed25519 signatures of ledger checkpoints. The signed message is
/// <c>"grid.ledger.checkpoint.v1" 0x00 ‖ int64 seq ‖ the head hash's 32 raw bytes ‖ int64 at (µs since 1970, UTC)</c>,
/// integers big-endian. Keys and signatures travel as lowercase hex (32-byte private seed, 32-byte public key,
/// 64-byte signature).
/// </summary>
public static class LedgerCheckpoints
{
    private static readonly SignatureAlgorithm Ed25519 = SignatureAlgorithm.Ed25519;
    private static readonly byte[] Magic = "grid.ledger.checkpoint.v1\0"u8.ToArray();

    /// <summary>The bytes a checkpoint signs.</summary>
    public static byte[] Message(long seq, string hash, DateTimeOffset at)
    {
        var message = new byte[Magic.Length + 8 + 32 + 8];
        Magic.CopyTo(message, 0);
        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(Magic.Length), seq);
        if (hash.Length != 64 || Convert.FromHexString(hash, message.AsSpan(Magic.Length + 8, 32), out _, out _) != System.Buffers.OperationStatus.Done)
        {
            throw new FormatException($"'{hash}' is not a 64-digit hex hash.");
        }

        BinaryPrimitives.WriteInt64BigEndian(message.AsSpan(Magic.Length + 40), LedgerCanonical.UnixMicroseconds(at));
        return message;
    }

    /// <summary>A new random private key (hex seed).</summary>
    public static string NewPrivateKey()
    {
        using var key = Key.Create(Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport });
        return Convert.ToHexStringLower(key.Export(KeyBlobFormat.RawPrivateKey));
    }

    /// <summary>The public key (hex) of a private key (hex seed).</summary>
    /// <exception cref="FormatException">The text is not a 32-byte hex seed.</exception>
    public static string PublicKeyOf(string privateKey)
    {
        using var key = Import(privateKey);
        return Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    /// <summary>Signs the checkpoint of <paramref name="hash"/> at <paramref name="seq"/>.</summary>
    public static LedgerCheckpoint Sign(string privateKey, long seq, string hash, DateTimeOffset at)
    {
        var stamped = LedgerCanonical.Stamp(at);
        using var key = Import(privateKey);
        var signature = Ed25519.Sign(key, Message(seq, hash, stamped));
        return new LedgerCheckpoint(seq, hash, stamped, Convert.ToHexStringLower(signature),
            Convert.ToHexStringLower(key.PublicKey.Export(KeyBlobFormat.RawPublicKey)));
    }

    /// <summary>True when the checkpoint's signature is valid for <paramref name="publicKey"/> (hex).</summary>
    public static bool Verify(LedgerCheckpoint checkpoint, string publicKey)
    {
        try
        {
            var key = PublicKey.Import(Ed25519, Convert.FromHexString(publicKey), KeyBlobFormat.RawPublicKey);
            return Ed25519.Verify(key, Message(checkpoint.Seq, checkpoint.Hash, checkpoint.At), Convert.FromHexString(checkpoint.Signature));
        }
        catch (FormatException)
        {
            return false;
        }
    }

    private static Key Import(string privateKey)
    {
        byte[] seed;
        try
        {
            seed = Convert.FromHexString(privateKey.Trim());
        }
        catch (FormatException)
        {
            seed = [];
        }

        if (seed.Length != 32)
        {
            throw new FormatException("An Ed25519 private key is 64 hex digits (its 32-byte seed).");
        }

        return Key.Import(Ed25519, seed, KeyBlobFormat.RawPrivateKey);
    }
}
