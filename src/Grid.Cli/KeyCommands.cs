using System.CommandLine;

namespace Grid.Cli;

/// <summary><c>grid keys create|list|revoke</c>: a twin's named API keys.</summary>
internal static class KeyCommands
{
    public static Command Build()
    {
        var name = new Option<string>("--name") { Description = "Name of the key, e.g. ci or laptop", Required = true };
        var roles = new Option<string[]>("--role")
        {
            Description = "tenant or farmer (repeatable; default: every role of the key used to create it)",
            AllowMultipleArgumentsPerToken = true,
        };
        roles.AcceptOnlyFromAmong("tenant", "farmer");
        var create = new Command("create", "Create a named API key; it is shown only once") { name, roles };
        create.SetApiAction(
            (parse, api, ct) => api.CreateKeyAsync(parse.GetValue(name)!, parse.GetValue(roles) is { Length: > 0 } r ? r : null, ct),
            (output, key) =>
            {
                output.WriteLine($"key {Output.Cell(key, "keyId")} '{Output.Cell(key, "name")}' created with roles {Output.Cell(key, "roles")}");
                output.WriteLine($"api key: {Output.Cell(key, "apiKey")}   (shown once; only its hash is stored)");
            });

        var list = new Command("list", "List your API keys (names, roles, revocation; never the keys)");
        list.SetApiAction(
            (_, api, ct) => api.ListKeysAsync(ct),
            (output, keys) => Output.Table(output, Output.Rows(keys),
                ("ID", "keyId"), ("NAME", "name"), ("ROLES", "roles"), ("CREATED", "createdAt"), ("REVOKED", "revokedAt")));

        var id = new Argument<long>("key-id") { Description = "Key id (see grid keys list)" };
        var revoke = new Command("revoke", "Revoke an API key: it stops working within seconds on every controller") { id };
        revoke.SetApiAction((parse, api, ct) => api.RevokeKeyAsync(parse.GetValue(id), ct), (output, _) => output.WriteLine("key revoked"));

        return new Command("keys", "A twin's API keys: several, named, revocable") { create, list, revoke };
    }
}
