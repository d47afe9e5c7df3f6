using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using Orleans.Serialization.TypeSystem;

namespace Grid.Hosting;

/// <summary>
/// A grain interface's <see cref="GrainInterfaceType"/>, resolved once per interface. Orleans 10.4 resolves it on every
/// <c>GetGrain</c> call by reading the interface's custom attributes (reflection, and an allocation of every attribute
/// on it) and, for an interface without one, by formatting its name: a cost paid on each call the grid makes to a
/// grain — a placement's, a heartbeat's, every move of a failover. Registered ahead of the providers it wraps, it
/// answers every interface with what they together with Orleans' conventions answer, remembered.
/// </summary>
public sealed class CachedGrainInterfaceTypes(GrainInterfaceTypeResolver resolver) : IGrainInterfaceTypeProvider
{
    private readonly ConcurrentDictionary<Type, GrainInterfaceType> _known = new();
    private readonly Func<Type, GrainInterfaceType> _resolve = resolver.GetGrainInterfaceType;

    /// <summary>How many interfaces were resolved (each once).</summary>
    public int Count => _known.Count;

    public bool TryGetGrainInterfaceType(Type type, out GrainInterfaceType grainInterfaceType)
    {
        grainInterfaceType = _known.GetOrAdd(type, _resolve);
        return true;
    }

    /// <summary>
    /// Puts the cache in front of the interface type providers registered so far: they answer through it, once per
    /// interface. Call after everything that registers a provider (a provider registered later is not consulted).
    /// </summary>
    public static void Register(IServiceCollection services)
    {
        var providers = services.Where(d => d.ServiceType == typeof(IGrainInterfaceTypeProvider) && !d.IsKeyedService).ToList();
        foreach (var provider in providers)
        {
            services.Remove(provider);
        }

        services.AddSingleton(sp => new CachedGrainInterfaceTypes(
            new GrainInterfaceTypeResolver(providers.Select(d => Create(sp, d)), sp.GetRequiredService<TypeConverter>())));
        services.AddSingleton<IGrainInterfaceTypeProvider>(sp => sp.GetRequiredService<CachedGrainInterfaceTypes>());
    }

    private static IGrainInterfaceTypeProvider Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        (IGrainInterfaceTypeProvider)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(services)
            ?? ActivatorUtilities.GetServiceOrCreateInstance(services, descriptor.ImplementationType!));
}
