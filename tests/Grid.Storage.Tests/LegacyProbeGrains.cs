namespace Grid.Storage.Tests;

/// <summary>Name of the Orleans ADO.NET grain storage the compatibility test writes through.</summary>
public static class LegacyStorage
{
    public const string Name = "orleans-adonet";
}

[Alias("grid.tests.ILegacyCompoundProbeGrain")]
public interface ILegacyCompoundProbeGrain : IGrainWithIntegerCompoundKey
{
    [Alias("Save")]
    Task Save(ProbeState state);
}

[Alias("grid.tests.ILegacyStringProbeGrain")]
public interface ILegacyStringProbeGrain : IGrainWithStringKey
{
    [Alias("Save")]
    Task Save(ProbeState state);
}

/// <summary>Writes its state through Orleans' own ADO.NET provider (integer key with an extension).</summary>
public sealed class LegacyCompoundProbeGrain([PersistentState("s", LegacyStorage.Name)] IPersistentState<ProbeState> state)
    : Grain, ILegacyCompoundProbeGrain
{
    public async Task Save(ProbeState value)
    {
        state.State = value;
        await state.WriteStateAsync();
    }
}

/// <summary>Writes its state through Orleans' own ADO.NET provider (string key).</summary>
public sealed class LegacyStringProbeGrain([PersistentState("s", LegacyStorage.Name)] IPersistentState<ProbeState> state)
    : Grain, ILegacyStringProbeGrain
{
    public async Task Save(ProbeState value)
    {
        state.State = value;
        await state.WriteStateAsync();
    }
}
