// The landing page: where things are.
import type { PageProps } from "../shell";
import { href } from "../router";

export function Home({ signed, can }: PageProps) {
  return (
    <section>
      <h1>{signed.org.name}</h1>
      <p>
        Signed in as {signed.me.email} ({signed.me.role}). {signed.org.user_count} member
        {signed.org.user_count === 1 ? "" : "s"}.
      </p>
      <p>Open a table from the tree, or:</p>
      <ul>
        {can("tables:query") && (
          <li>
            <a href={href(["sql"])}>query with SQL</a>
          </li>
        )}
        {can("tables:import") && (
          <li>
            <a href={href(["import"])}>import a CSV file</a>
          </li>
        )}
        {can("tables:create") && (
          <li>
            <a href={href(["new-table"])}>create a table</a>
          </li>
        )}
      </ul>
    </section>
  );
}
