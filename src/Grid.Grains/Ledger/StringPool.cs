namespace Grid.Ledger;

/// <summary>
/// Shares equal strings that repeat across many kept records (a ledger's kinds and actors), so each distinct
/// text is held once. Bounded: past <paramref name="capacity"/> distinct texts new ones are kept as they come, so
/// a stream of unique values cannot grow the pool without end. Not thread-safe (its owner holds a lock).
/// </summary>
public sealed class StringPool(int capacity = 65_536)
{
    private readonly HashSet<string> _texts = new(StringComparer.Ordinal);

    /// <summary>The pooled string equal to <paramref name="text"/>, or <paramref name="text"/> itself (then pooled if there is room).</summary>
    public string Share(string text)
    {
        if (_texts.TryGetValue(text, out var shared))
        {
            return shared;
        }

        if (_texts.Count < capacity)
        {
            _texts.Add(text);
        }

        return text;
    }
}
