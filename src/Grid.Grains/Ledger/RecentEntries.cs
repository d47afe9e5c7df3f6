namespace Grid.Ledger;

/// <summary>The last N entries by event id (oldest forgotten first), so repeated appends skip the store.</summary>
internal sealed class RecentEntries(int capacity)
{
    private readonly Dictionary<string, LedgerEntry> _entries = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();

    public bool TryGet(string eventId, out LedgerEntry entry) => _entries.TryGetValue(eventId, out entry!);

    public void Add(LedgerEntry entry)
    {
        if (!_entries.TryAdd(entry.EventId, entry))
        {
            return;
        }

        _order.Enqueue(entry.EventId);
        if (_order.Count > capacity)
        {
            _entries.Remove(_order.Dequeue());
        }
    }
}
