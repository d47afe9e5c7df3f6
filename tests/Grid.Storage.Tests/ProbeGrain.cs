using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Grid.Storage.Tests;

/// <summary>Colour of a probe; stored as a string by the Grid's serializer.</summary>
public enum ProbeColour
{
    Red,
    DeepBlue,
}

/// <summary>A nested item with its own immutable array.</summary>
[GenerateSerializer, Immutable, Alias("grid.tests.probe-item")]
public sealed record ProbeItem([property: Id(0)] string Sku, [property: Id(1)] int Quantity, [property: Id(2)] ImmutableArray<string> Tags);

/// <summary>State of the probe grain, shaped like real grid state: scalars, an enum, nested immutable arrays and a dictionary.</summary>
[GenerateSerializer, Alias("grid.tests.probe-state")]
public sealed record ProbeState
{
    [Id(0)] public string Name { get; init; } = "";

    [Id(1)] public ProbeColour Colour { get; init; }

    [Id(2)] public ImmutableArray<ProbeItem> Items { get; init; } = [];

    [Id(3)] public Dictionary<string, long> Counters { get; init; } = [];
}

[Alias("grid.tests.IProbeGrain")]
public interface IProbeGrain : IGrainWithStringKey
{
    [Alias("Save")]
    Task Save(ProbeState state);

    [Alias("Load")]
    Task<ProbeState> Load();

    [Alias("StartTicking")]
    Task StartTicking(TimeSpan period);
}

/// <summary>Persists its state in the "grid" storage and counts reminder ticks.</summary>
public sealed class ProbeGrain(
    [PersistentState("s", GridPostgresSiloBuilderExtensions.StorageName)] IPersistentState<ProbeState> state)
    : Grain, IProbeGrain, IRemindable
{
    public const string ReminderName = "tick";

    /// <summary>Reminder ticks per grain key, seen by the test through the shared process.</summary>
    public static ConcurrentDictionary<string, int> Ticks { get; } = new();

    public async Task Save(ProbeState value)
    {
        state.State = value;
        await state.WriteStateAsync();
    }

    public Task<ProbeState> Load() => Task.FromResult(state.State);

    public async Task StartTicking(TimeSpan period) =>
        await this.RegisterOrUpdateReminder(ReminderName, period, period);

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        Ticks.AddOrUpdate(this.GetPrimaryKeyString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }
}
