import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createBrowserRouter, RouterProvider } from 'react-router';
import { SessionGate } from './session.tsx';
import { Layout } from './layout.tsx';
import { OverviewPage } from './pages/overview.tsx';
import { IntegrationsPage } from './pages/integrations.tsx';
import { ConnectorFormPage } from './pages/connector-form.tsx';
import { HistoryPage } from './pages/history.tsx';
import { HostsPage } from './pages/hosts.tsx';
import { FindingsPage } from './pages/findings.tsx';
import { FindingDetailPage } from './pages/finding-detail.tsx';
import './styles.css';

// a failed request is shown at once in the API's words; retrying hides the code for seconds
const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } } });

const router = createBrowserRouter([
  {
    element: <Layout />,
    children: [
      { path: '/', element: <OverviewPage /> },
      { path: '/integrations', element: <IntegrationsPage /> },
      { path: '/integrations/new', element: <ConnectorFormPage /> },
      { path: '/integrations/:id/edit', element: <ConnectorFormPage /> },
      { path: '/integrations/:id/history', element: <HistoryPage /> },
      { path: '/hosts', element: <HostsPage /> },
      { path: '/findings', element: <FindingsPage /> },
      { path: '/findings/:id', element: <FindingDetailPage /> },
      { path: '*', element: <p>Page not found.</p> },
    ],
  },
]);

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <SessionGate>
        <RouterProvider router={router} />
      </SessionGate>
    </QueryClientProvider>
  </StrictMode>,
);
