using System.Text;
using Orleans.Storage;

namespace Grid.Storage;

/// <summary>
/// Where one grain state lives in <c>orleans_grain_state</c>: the same key columns and hashes the Orleans ADO.NET
/// provider computes (its default hasher over the key bytes written in reverse, the state name as the grain
/// type), so rows written before <see cref="PostgresGrainStorage"/> replaced that provider are found as they are.
/// </summary>
internal readonly record struct PostgresGrainKey(int IdHash, int TypeHash, long N0, long N1, string Type, string? Extension)
{
    private static readonly OrleansDefaultHasher Hasher = new();

    public static PostgresGrainKey Of(string stateName, GrainId grainId)
    {
        long n0 = 0, n1 = 0;
        string? extension;
        byte[] hashBytes;
        if (grainId.TryGetGuidKey(out var guid, out extension))
        {
            var guidBytes = guid.ToByteArray();
            n0 = BitConverter.ToInt64(guidBytes, 0);
            n1 = BitConverter.ToInt64(guidBytes, 8);
            hashBytes = WithExtension(guidBytes, extension);
        }
        else if (grainId.TryGetIntegerKey(out var integer, out extension))
        {
            n1 = integer;
            hashBytes = WithExtension(BitConverter.GetBytes(integer), extension);
        }
        else
        {
            // A string key is stored whole in the extension column.
            extension = grainId.Key.ToString();
            hashBytes = Encoding.UTF8.GetBytes(extension);
        }

        if (BitConverter.IsLittleEndian)
        {
            Array.Reverse(hashBytes);
        }

        return new(Hasher.Hash(hashBytes), Hasher.Hash(Encoding.UTF8.GetBytes(stateName)), n0, n1, stateName, extension);
    }

    private static byte[] WithExtension(byte[] key, string? extension) =>
        extension is null ? key : [.. key, .. Encoding.UTF8.GetBytes(extension)];

    public override string ToString() => $"{Type}/{N0:x}{N1:x}{(Extension is null ? "" : "/" + Extension)}";
}
