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
        var (grainType, interfaceType) = Types<T>.Value ??= Resolve<T>(grains.GetGrain<T>(0));
        return (T)grains.GetGrain(GrainId.Create(grainType, GrainIdKeyExtensions.CreateIntegerKey(key)), interfaceType);
    }

    public static T Get<T>(this IGrainFactory grains, string key)
        where T : IGrainWithStringKey
    {
        var (grainType, interfaceType) = Types<T>.Value ??= Resolve<T>(grains.GetGrain<T>("0"));
        return (T)grains.GetGrain(GrainId.Create(grainType, IdSpan.Create(key)), interfaceType);
    }

    private static (GrainType, GrainInterfaceType) Resolve<T>(T sample)
    {
        var reference = (GrainReference)(object)sample!;
        return (reference.GrainId.Type, reference.InterfaceType);
    }

    // Per interface, the same in every silo and client of the process (grain types come from the assemblies).
    private static class Types<T>
    {
        public static (GrainType, GrainInterfaceType)? Value;
    }
}
