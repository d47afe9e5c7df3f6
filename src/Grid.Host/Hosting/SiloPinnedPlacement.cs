using Orleans.Placement;
using Orleans.Runtime.Placement;

namespace Grid.Host.Hosting;

/// <summary>
/// Places a grain keyed by a silo address (<see cref="SiloAddress.ToParsableString"/>) on that silo and nowhere
/// else: a way to ask one particular silo something through ordinary grain calls.
/// </summary>
[GenerateSerializer, SuppressReferenceTracking, Immutable, Alias("grid.silo-pinned")]
public sealed class SiloPinnedPlacement : Orleans.Runtime.PlacementStrategy
{
    public static readonly SiloPinnedPlacement Instance = new();
}

/// <summary>Marks a grain class as placed by <see cref="SiloPinnedPlacement"/>.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class SiloPinnedPlacementAttribute() : PlacementAttribute(SiloPinnedPlacement.Instance);

/// <summary>
/// Director of <see cref="SiloPinnedPlacement"/>: the silo the key names when it is a compatible (active) silo;
/// otherwise the call fails, since an answer from any other silo would be about the wrong silo.
/// </summary>
public sealed class SiloPinnedPlacementDirector : IPlacementDirector
{
    public Task<SiloAddress> OnAddActivation(Orleans.Runtime.PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var key = target.GrainIdentity.Key.ToString();
        var wanted = SiloAddress.FromParsableString(key);
        return context.GetCompatibleSilos(target).Contains(wanted)
            ? Task.FromResult(wanted)
            : Task.FromException<SiloAddress>(new OrleansException($"Silo {key} is not an active member; no grain is placed for it."));
    }
}
