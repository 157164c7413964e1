// Starts GraphiQL on the page. It is a file, not an inline <script>, because the page is
// served with a Content-Security-Policy of script-src 'self', which forbids inline scripts.
// React, ReactDOM and GraphiQL are the globals set by the vendored UMD bundles loaded before it.
(function () {
  'use strict';

  var fetcher = GraphiQL.createFetcher({ url: '/v1/graphql' });

  var root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: 'headers',
      isHeadersEditorEnabled: true,
      // Shown in the headers editor of a new tab; the user pastes their credential in.
      defaultHeaders: JSON.stringify(
        { Authorization: 'Bearer <your API key or session token>' },
        null,
        2
      ),
    })
  );
})();
