using System.Reflection;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Grid.Host.Hosting;

/// <summary>
/// Keeps the published schema of a request record that is read member by member (a private
/// <see cref="JsonConstructorAttribute"/> constructor, to spare a hot body's boxing) as it was when it was read through
/// its positional constructor: the parameters without a default value are <c>required</c>. Only the schema says so;
/// the endpoints still answer a missing member with their own ProblemDetails.
/// </summary>
public sealed class RequiredMembersSchema : IOpenApiSchemaTransformer
{
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        var info = context.JsonTypeInfo;
        Apply(schema, info.Type, info.Options.PropertyNamingPolicy);

        // An array of them (a heartbeat's reports): its items' schema is made here, not on its own.
        if (ElementOf(Nullable.GetUnderlyingType(info.Type) ?? info.Type) is { } element && schema.Items is OpenApiSchema items)
        {
            Apply(items, element, info.Options.PropertyNamingPolicy);
        }

        return Task.CompletedTask;
    }

    private static Type? ElementOf(Type type) =>
        type == typeof(string) ? null
        : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IEnumerable<>))?.GetGenericArguments()[0];

    private static void Apply(OpenApiSchema schema, Type type, JsonNamingPolicy? naming)
    {
        var readMemberByMember = type.GetConstructors(BindingFlags.NonPublic | BindingFlags.Instance)
            .Any(c => c.GetParameters().Length == 0 && c.IsDefined(typeof(JsonConstructorAttribute)));
        var positional = readMemberByMember ? type.GetConstructors().MaxBy(c => c.GetParameters().Length) : null;
        var required = positional?.GetParameters().Where(p => !p.HasDefaultValue).Select(p => naming?.ConvertName(p.Name!) ?? p.Name!).ToList() ?? [];
        if (required.Count > 0)
        {
            schema.Required = new HashSet<string>(required);
        }
    }
}
