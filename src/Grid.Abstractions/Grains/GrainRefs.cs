namespace Grid.Grains;

/// <summary>
/// Grain references for the hot paths (a reservation per placement, its tenant-list and billing buckets).
/// <c>IGrainFactory.GetGrain&lt;T&gt;(key)</c> resolves the interface's grain type by reflecting over its
/// attributes on every call (≈ 3 % of a placement profile, much of it under a lock); here that is done once per
/// interface and each reference is built from the grain id directly, which gives the same reference.
/// </summary>
public static class GrainRefs
{
    public static T Get<T>(this IGrainFactory grains, long key)
        where T : IGrainWithIntegerKey
    {
        var types = Types<T>.Value ??= Resolve(grains.GetGrain<T>(0));
        return (T)grains.GetGrain(GrainId.Create(types.GrainType, GrainIdKeyExtensions.CreateIntegerKey(key)), types.InterfaceType);
    }

    /// <summary>The id of grain <paramref name="key"/> of interface <typeparamref name="T"/> (its storage key).</summary>
    public static GrainId IdOf<T>(this IGrainFactory grains, long key)
        where T : IGrainWithIntegerKey
    {
        var types = Types<T>.Value ??= Resolve(grains.GetGrain<T>(0));
        return GrainId.Create(types.GrainType, GrainIdKeyExtensions.CreateIntegerKey(key));
    }

    public static T Get<T>(this IGrainFactory grains, string key)
        where T : IGrainWithStringKey
    {
        var types = Types<T>.Value ??= Resolve(grains.GetGrain<T>("0"));
        return (T)grains.GetGrain(GrainId.Create(types.GrainType, IdSpan.Create(key)), types.InterfaceType);
    }

    private static Resolved Resolve(object sample)
    {
        var reference = (GrainReference)sample;
        return new Resolved(reference.GrainId.Type, reference.InterfaceType);
    }

    // A class, not a nullable tuple: threads racing on the first call publish it by one reference write, so no
    // reader can see a half-written pair.
    private sealed record Resolved(GrainType GrainType, GrainInterfaceType InterfaceType);

    // Per interface, the same in every silo and client of the process (grain types come from the assemblies).
    private static class Types<T>
    {
        public static Resolved? Value;
    }
}
